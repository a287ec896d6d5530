using DetailFlow.Core.Imaging;
using SkiaSharp;

namespace DetailFlow.Core.Tests.Imaging;

public class PngEncoderTests
{
    public static TheoryData<string> Encoders => new() { "fast", "compact" };

    [Theory]
    [MemberData(nameof(Encoders))]
    public void PngDecodesBackToTheSameRgbPixels(string which)
    {
        var encoder = which == "fast" ? PngEncoder.Fast : PngEncoder.Compact;
        const int w = 37, h = 23; // odd, non-square
        var rgb = new byte[3 * w * h];
        new Random(7).NextBytes(rgb);
        var png = encoder.Encode(new RgbImage(w, h, rgb));

        Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, png[..4]);
        using var bitmap = SKBitmap.Decode(png);
        Assert.Equal((w, h), (bitmap.Width, bitmap.Height));
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
            {
                var c = bitmap.GetPixel(x, y);
                int i = 3 * (y * w + x);
                Assert.True(c.Red == rgb[i] && c.Green == rgb[i + 1] && c.Blue == rgb[i + 2] && c.Alpha == 255,
                    $"pixel ({x},{y}): decoded {c}, expected ({rgb[i]},{rgb[i + 1]},{rgb[i + 2]})");
            }
    }

    [Fact]
    public void ZlibLevelOutsideTheRangeIsRejected()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new PngEncoder(SKPngEncoderFilterFlags.NoFilters, 10));
        Assert.Contains("10", e.Message);
    }

    [Fact]
    public void RgbImageRejectsAWrongBufferLength()
    {
        var e = Assert.Throws<ArgumentException>(() => new RgbImage(4, 4, new byte[47]));
        Assert.Contains("47", e.Message);
    }
}
