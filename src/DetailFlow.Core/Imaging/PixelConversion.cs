using TorchSharp;
using static TorchSharp.torch;

namespace DetailFlow.Core.Imaging;

/// <summary>
/// Decoder output → 8-bit pixels as every official script converts them (spec §2.9, §12 item 11):
/// u8 = truncate(clamp(127.5·x + 128, 0, 255)), i.e. 127.5·x + 127.5 rounded half-up. The expression is evaluated in
/// the tensor's own dtype, as in the official code (a bf16 decoder output is converted with bf16 arithmetic).
/// </summary>
public static class PixelConversion
{
    /// <summary>127.5: maps [−1, 1] onto a 255-wide range (spec §2.9).</summary>
    public const double Scale = 127.5;

    /// <summary>128 = 127.5 + 0.5: the centre plus the half that makes the truncating cast round half-up.</summary>
    public const double Offset = 128.0;

    /// <summary>[B, 3, H, W] floating → uint8 [B, H, W, 3] (channels last, on the input's device).</summary>
    public static Tensor ToUint8(Tensor pixels)
    {
        if (pixels.dim() != 4 || pixels.shape[1] != 3)
            throw new ArgumentException($"pixels must be [B, 3, H, W], got [{string.Join(", ", pixels.shape)}]", nameof(pixels));
        if (!pixels.is_floating_point()) throw new ArgumentException($"pixels must be floating point, got {pixels.dtype}", nameof(pixels));
        using var scope = NewDisposeScope();
        var bytes = (pixels * Scale + Offset).clamp(0, 255).to(ScalarType.Byte); // the cast truncates toward zero
        return bytes.permute(0, 2, 3, 1).contiguous().MoveToOuterDisposeScope();   // [B, H, W, 3]
    }

    /// <summary>[B, 3, H, W] floating → one <see cref="RgbImage"/> per batch row.</summary>
    public static RgbImage[] ToRgb(Tensor pixels)
    {
        using var scope = NewDisposeScope();
        var hwc = ToUint8(pixels).cpu();                              // [B, H, W, 3]
        int b = (int)hwc.shape[0], h = (int)hwc.shape[1], w = (int)hwc.shape[2];
        return Enumerable.Range(0, b).Select(i => new RgbImage(w, h, hwc[i].data<byte>().ToArray())).ToArray();   // one copy per image
    }
}
