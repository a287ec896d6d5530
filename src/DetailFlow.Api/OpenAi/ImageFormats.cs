using SkiaSharp;

namespace DetailFlow.Api.OpenAi;

/// <summary>
/// The generator's PNG → the requested <c>output_format</c>: PNG as is; JPEG or WebP re-encoded with SkiaSharp at
/// <c>output_compression</c> (OpenAI's 0–100 quality scale; 100 is lossless WebP).
/// </summary>
public static class ImageFormats
{
    public static byte[] Convert(byte[] png, string format, int compression)
    {
        if (format == "png") return png;
        using var bitmap = SKBitmap.Decode(png) ?? throw new InvalidOperationException("SkiaSharp could not decode the generated PNG");
        var skFormat = format == "jpeg" ? SKEncodedImageFormat.Jpeg : SKEncodedImageFormat.Webp;
        using var data = bitmap.Encode(skFormat, compression)
            ?? throw new InvalidOperationException($"SkiaSharp could not encode a {bitmap.Width}×{bitmap.Height} {format}");
        return data.ToArray();
    }
}
