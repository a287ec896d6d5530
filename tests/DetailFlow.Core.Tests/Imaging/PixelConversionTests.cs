using DetailFlow.Core.Imaging;
using TorchSharp;
using static TorchSharp.torch;

namespace DetailFlow.Core.Tests.Imaging;

public class PixelConversionTests
{
    // x → truncate(clamp(127.5·x + 128, 0, 255)), values chosen so that 127.5·x + 128 is exact in float32.
    [Theory]
    [InlineData(-1.5f, 0)]          // −63.25 → clamped to 0
    [InlineData(-1.0f, 0)]          // 0.5 → 0
    [InlineData(-0.99609375f, 0)]   // 0.998046875 → 0 (round-to-nearest would give 1)
    [InlineData(-0.5f, 64)]         // 64.25 → 64
    [InlineData(-0.0078125f, 127)]  // 127.00390625 → 127
    [InlineData(0.0f, 128)]         // 128 (= 127.5 rounded half-up)
    [InlineData(0.00390625f, 128)]  // 128.498046875 → 128
    [InlineData(0.25f, 159)]        // 159.875 → 159 (truncation, not rounding)
    [InlineData(0.5f, 191)]         // 191.75 → 191
    [InlineData(0.9921875f, 254)]   // 254.50390625 → 254
    [InlineData(1.0f, 255)]         // 255.5 → 255
    [InlineData(1.5f, 255)]         // 319.25 → clamped to 255
    public void Float32ValuesTruncateAfterScaleAndOffset(float x, byte expected)
    {
        using var pixels = torch.full(1, 3, 1, 1, x);
        var image = PixelConversion.ToRgb(pixels)[0];
        Assert.Equal((expected, expected, expected), image[0, 0]);
    }

    [Fact]
    public void Bfloat16OutputIsConvertedWithBfloat16Arithmetic()
    {
        // Official scripts convert the bf16 decoder output in bf16 (spec §2.9): 127.5·0.5 = 63.75 (exact), + 128 =
        // 191.75, which bf16 (spacing 1 in [128, 256)) rounds to 192 before the cast; float32 gives 191.
        using var pixels = torch.full(1, 3, 1, 1, 0.5f).to(bfloat16);
        Assert.Equal((192, 192, 192), PixelConversion.ToRgb(pixels)[0][0, 0]);
    }

    [Fact]
    public void ImagesAreRowMajorRgbTriplesPerBatchRow()
    {
        // Batch 2, H = 2, W = 3: channel c of pixel (y, x) in batch b holds x0 + 0.5·c, distinct per position.
        var values = new float[2 * 3 * 2 * 3];
        for (int b = 0; b < 2; b++)
            for (int c = 0; c < 3; c++)
                for (int y = 0; y < 2; y++)
                    for (int x = 0; x < 3; x++)
                        values[((b * 3 + c) * 2 + y) * 3 + x] = b == 0 ? -1f + 0.5f * c : 0.25f * (x - y);
        using var pixels = torch.tensor(values, [2, 3, 2, 3]);
        var images = PixelConversion.ToRgb(pixels);
        Assert.Equal(2, images.Length);
        Assert.Equal((3, 2), (images[0].Width, images[0].Height));
        Assert.Equal(((byte)0, (byte)64, (byte)128), images[0][2, 1]);       // −1, −0.5, 0
        Assert.Equal(((byte)191, (byte)191, (byte)191), images[1][2, 0]);    // 0.25·2 = 0.5
        Assert.Equal(((byte)96, (byte)96, (byte)96), images[1][0, 1]);       // −0.25 → 96.125
        Assert.Equal(18, images[1].Pixels.Length);
    }

    [Fact]
    public void NonImageShapesAreRejected()
    {
        using var gray = torch.zeros(1, 1, 4, 4);
        var e = Assert.Throws<ArgumentException>(() => PixelConversion.ToUint8(gray));
        Assert.Contains("[1, 1, 4, 4]", e.Message);
    }
}
