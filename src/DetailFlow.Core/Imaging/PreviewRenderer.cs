using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace DetailFlow.Core.Imaging;

/// <summary>
/// Previews as 8-bit RGB images (and PNG bytes): <see cref="PreviewDecoder"/> then <see cref="PixelConversion"/>.
/// With <c>displaySize</c> the decoded image is first resized as the official preview script does (spec §8: bicubic,
/// align_corners = false, no antialias) before the uint8 conversion; otherwise it stays at d_t.
/// </summary>
public sealed class PreviewRenderer(PreviewDecoder decoder)
{
    private readonly PreviewDecoder _decoder = decoder ?? throw new ArgumentNullException(nameof(decoder));

    public IReadOnlyList<PreviewImage> Render(IReadOnlyList<PreviewItem> items, int? displaySize = null, Action? beforeCall = null)
    {
        if (displaySize is <= 0) throw new ArgumentOutOfRangeException(nameof(displaySize), displaySize, "display size must be positive");
        var decoded = _decoder.DecodePixels(items, beforeCall);
        try
        {
            return decoded.Select(p => new PreviewImage(p.PrefixLength, p.Resolution, ToImage(p.Pixels, displaySize))).ToList();
        }
        finally
        {
            foreach (var p in decoded) p.Dispose();
        }
    }

    public IReadOnlyList<byte[]> RenderPng(IReadOnlyList<PreviewItem> items, PngEncoder encoder, int? displaySize = null)
    {
        ArgumentNullException.ThrowIfNull(encoder);
        return Render(items, displaySize).Select(p => encoder.Encode(p.Image)).ToList();
    }

    private static RgbImage ToImage(Tensor pixels, int? displaySize)
    {
        using var scope = NewDisposeScope();
        var batch = pixels.unsqueeze(0); // [1, 3, d, d]
        if (displaySize is { } size && size != pixels.shape[^1])
            batch = F.interpolate(batch, size: [size, size], mode: InterpolationMode.Bicubic, align_corners: false);
        return PixelConversion.ToRgb(batch)[0];
    }
}

/// <summary>A rendered preview: prefix length t, the decoded resolution d_t, and the image (d_t² or the display size).</summary>
public sealed record PreviewImage(int PrefixLength, int Resolution, RgbImage Image);
