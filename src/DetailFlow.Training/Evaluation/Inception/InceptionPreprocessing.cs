using TorchSharp;
using static TorchSharp.torch;

namespace DetailFlow.Training.Evaluation.Inception;

/// <summary>How 8-bit images are resized to 299×299 and scaled before the FID Inception.</summary>
public enum InceptionResize
{
    /// <summary>
    /// torch-fidelity (and torchmetrics' <c>FrechetInceptionDistance</c>, which the official <c>reconstruct_vq.py</c>
    /// uses for rFID): uint8 → float, TF1-style bilinear resize (source = destination · in/out, no half-pixel
    /// offset, edge clamped), then (x − 128) / 128.
    /// </summary>
    TorchFidelity,

    /// <summary>pytorch-fid: x / 255, <c>F.interpolate(bilinear, align_corners=False)</c>, then 2x − 1.</summary>
    PytorchFid,
}

/// <summary>uint8 images [B, 3, H, W] → the FID Inception's input [B, 3, 299, 299] in [−1, 1] (float32).</summary>
public static class InceptionPreprocessing
{
    public static Tensor Apply(Tensor images, InceptionResize resize, int size = FidInceptionV3.InputSize)
    {
        if (images.dim() != 4 || images.shape[1] != 3)
            throw new ArgumentException($"images must be [B, 3, H, W], got [{string.Join(", ", images.shape)}]", nameof(images));
        if (images.dtype != ScalarType.Byte) throw new ArgumentException($"images must be uint8, got {images.dtype}", nameof(images));
        using var scope = NewDisposeScope();
        var x = images.to(float32);
        var result = resize switch
        {
            InceptionResize.TorchFidelity => (ResizeLikeTensorflow1(x, size) - 128) / 128,
            InceptionResize.PytorchFid => nn.functional.interpolate(x / 255, [size, size], mode: InterpolationMode.Bilinear, align_corners: false) * 2 - 1,
            _ => throw new ArgumentOutOfRangeException(nameof(resize), resize, "unknown resize"),
        };
        return result.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// TF1 <c>resize_bilinear(align_corners=False)</c> as torch-fidelity's <c>interpolate_bilinear_2d_like_tensorflow1x</c>
    /// ("slow", bit-exact on CPU): source coordinate = destination · (in / out) in float32, the upper neighbour clamped
    /// to the edge; interpolated along the width first, then along the height.
    /// </summary>
    public static Tensor ResizeLikeTensorflow1(Tensor x, int size)
    {
        using var scope = NewDisposeScope();
        x = Along(x, 3, size);
        x = Along(x, 2, size);
        return x.MoveToOuterDisposeScope();
    }

    private static Tensor Along(Tensor x, int dim, int outSize)
    {
        long inSize = x.shape[dim];
        if (inSize == outSize) return x.alias();
        var src = arange(outSize, dtype: float32) * tensor((float)inSize / outSize);
        var loIdx = src.to(int64);                                   // truncation = floor for coordinates ≥ 0
        var hiIdx = (loIdx + 1).clamp_max(inSize - 1);
        var frac = (src - loIdx.to(float32)).to(x.dtype);
        var a = x.index_select(dim, loIdx);
        var b = x.index_select(dim, hiIdx);
        var shape = Enumerable.Repeat(1L, (int)x.dim()).ToArray();
        shape[dim] = outSize;
        return a + (b - a) * frac.view(shape);
    }
}
