using System.Runtime.InteropServices;
using SkiaSharp;

namespace DetailFlow.Core.Imaging;

/// <summary>
/// RGB → PNG with SkiaSharp and explicit encoder options (Skia has no 24-bit colour type: pixels are expanded to
/// opaque Rgba8888 first; shared/notes/torchsharp.md §8). <see cref="Fast"/> (no filters, zlib 1) for previews, which
/// are many and short-lived; <see cref="Compact"/> (all filters, zlib 6: slower, smaller) for final images, which are
/// sent and cached (docs/performance.md). The RGBA copy lives in native memory for the call only: a managed one is a
/// large-object-heap array at 256 px, and pooled, one stayed cached per thread that ever encoded (docs/memory.md).
/// </summary>
public sealed class PngEncoder
{
    public PngEncoder(SKPngEncoderFilterFlags filters, int zlibLevel)
    {
        if (zlibLevel is < 0 or > 9) throw new ArgumentOutOfRangeException(nameof(zlibLevel), zlibLevel, "zlib level must be in [0, 9]");
        Filters = filters;
        ZlibLevel = zlibLevel;
    }

    public static PngEncoder Fast { get; } = new(SKPngEncoderFilterFlags.NoFilters, 1);
    public static PngEncoder Compact { get; } = new(SKPngEncoderFilterFlags.AllFilters, 6);

    public SKPngEncoderFilterFlags Filters { get; }
    public int ZlibLevel { get; }

    public unsafe byte[] Encode(RgbImage image)
    {
        ArgumentNullException.ThrowIfNull(image);
        int w = image.Width, h = image.Height;
        byte* rgba = (byte*)NativeMemory.Alloc((nuint)(4L * w * h));
        try
        {
            var rgb = image.Pixels;
            for (long p = 0, q = 0; p < rgb.Length; p += 3, q += 4)
            {
                rgba[q] = rgb[p];
                rgba[q + 1] = rgb[p + 1];
                rgba[q + 2] = rgb[p + 2];
                rgba[q + 3] = 255;
            }
            var info = new SKImageInfo(w, h, SKColorType.Rgba8888, SKAlphaType.Opaque);
            using var pixmap = new SKPixmap(info, (IntPtr)rgba, 4 * w);
            using var data = pixmap.Encode(new SKPngEncoderOptions(Filters, ZlibLevel))
                ?? throw new InvalidOperationException($"SkiaSharp could not encode a {w}×{h} PNG");
            return data.ToArray();
        }
        finally
        {
            NativeMemory.Free(rgba);
        }
    }
}
