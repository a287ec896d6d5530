namespace DetailFlow.Api.Imaging;

/// <summary>
/// RGB bytes (row-major, 3 bytes a pixel) → PNG. The seam for Core's <c>Imaging.PngEncoder</c>: when it lands,
/// <see cref="SkiaPngEncoder"/> becomes a one-line adapter over it.
/// </summary>
public interface IPngEncoder
{
    byte[] Encode(byte[] rgb, int width, int height);
}
