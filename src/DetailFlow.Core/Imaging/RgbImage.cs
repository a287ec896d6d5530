namespace DetailFlow.Core.Imaging;

/// <summary>An 8-bit RGB image, row-major, 3 bytes per pixel (R, G, B), no padding: <c>Pixels.Length = 3·W·H</c>.</summary>
public sealed record RgbImage
{
    public RgbImage(int width, int height, byte[] pixels)
    {
        if (width <= 0) throw new ArgumentOutOfRangeException(nameof(width), width, "width must be positive");
        if (height <= 0) throw new ArgumentOutOfRangeException(nameof(height), height, "height must be positive");
        ArgumentNullException.ThrowIfNull(pixels);
        if (pixels.Length != 3L * width * height)
            throw new ArgumentException($"{pixels.Length} bytes do not hold a {width}×{height} RGB image ({3L * width * height})", nameof(pixels));
        (Width, Height, Pixels) = (width, height, pixels);
    }

    public int Width { get; }
    public int Height { get; }
    public byte[] Pixels { get; }

    /// <summary>(R, G, B) of pixel (x, y).</summary>
    public (byte R, byte G, byte B) this[int x, int y]
    {
        get
        {
            int i = 3 * (y * Width + x);
            return (Pixels[i], Pixels[i + 1], Pixels[i + 2]);
        }
    }
}
