using DetailFlow.Core.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace DetailFlow.Training.Evaluation;

/// <summary>
/// Reconstruction PSNR and SSIM, in float64, of images [B, C, H, W] in [−1, 1] (mapped to [0, 1]; the reconstruction
/// clamped as when saved). FID statistics and the Fréchet distance are in <see cref="FeatureStatistics"/>.
/// </summary>
public static class ImageMetrics
{
    /// <summary>SSIM window: 11×11 Gaussian, σ = 1.5 (Wang et al. 2004).</summary>
    public const int SsimWindow = 11;
    public const double SsimSigma = 1.5;

    /// <summary>
    /// Per-image PSNR in dB of <paramref name="reconstructed"/> against <paramref name="reference"/>: 10·log10(1 / MSE)
    /// over all pixels and channels (skimage's <c>peak_signal_noise_ratio</c> with data range 1). Identical images give +∞.
    /// </summary>
    public static double[] Psnr(Tensor reference, Tensor reconstructed)
    {
        using var gcGuard = ScalarGcGuard.Enter();   // implicit Scalars below: no collection mid-call (docs/memory.md)
        using var scope = NewDisposeScope();
        var a = ((reference.to(float64) + 1) / 2).flatten(1);
        var b = ((reconstructed.to(float64) + 1) / 2).clamp(0, 1).flatten(1);
        var mse = (a - b).square().mean([1]);
        return (-10 * mse.log10()).data<double>().ToArray();
    }

    /// <summary>
    /// Per-image SSIM with pytorch_msssim's conventions (the Wang et al. 2004 reference implementation): data range 1,
    /// separable 11×11 Gaussian window σ 1.5, "valid" filtering (no padding), K1 = 0.01, K2 = 0.03, population
    /// (co)variances; the SSIM map is averaged over positions and then over channels. H and W must be ≥ 11.
    /// (The official <c>reconstruct_vq.py</c> calls skimage with its default 7×7 uniform window and data_range=2.0,
    /// which gives different, higher numbers.)
    /// </summary>
    public static double[] Ssim(Tensor reference, Tensor reconstructed)
    {
        if (reference.dim() != 4 || !reference.shape.SequenceEqual(reconstructed.shape))
            throw new ArgumentException($"reference and reconstruction must both be [B, C, H, W], got [{string.Join(", ", reference.shape)}] and [{string.Join(", ", reconstructed.shape)}]");
        if (reference.shape[2] < SsimWindow || reference.shape[3] < SsimWindow)
            throw new ArgumentException($"SSIM needs images of at least {SsimWindow}×{SsimWindow}, got {reference.shape[3]}×{reference.shape[2]}", nameof(reference));
        using var gcGuard = ScalarGcGuard.Enter();
        using var scope = NewDisposeScope();
        var x = (reference.to(float64) + 1) / 2;
        var y = ((reconstructed.to(float64) + 1) / 2).clamp(0, 1);
        const double c1 = 0.01 * 0.01, c2 = 0.03 * 0.03;
        var g = Gaussian1d(x.shape[1]);
        Tensor Filter(Tensor t) => Blur(t, g);
        var mu1 = Filter(x);
        var mu2 = Filter(y);
        var s11 = Filter(x * x) - mu1 * mu1;
        var s22 = Filter(y * y) - mu2 * mu2;
        var s12 = Filter(x * y) - mu1 * mu2;
        var cs = (2 * s12 + c2) / (s11 + s22 + c2);
        var map = (2 * mu1 * mu2 + c1) / (mu1 * mu1 + mu2 * mu2 + c1) * cs;
        return map.flatten(2).mean([2]).mean([1]).data<double>().ToArray();
    }

    /// <summary>The normalised 1-D Gaussian [C, 1, 1, 11] for a depthwise convolution over C channels.</summary>
    private static Tensor Gaussian1d(long channels)
    {
        var coords = arange(SsimWindow, dtype: float64) - SsimWindow / 2;
        var g = (-(coords * coords) / (2 * SsimSigma * SsimSigma)).exp();
        return (g / g.sum()).view(1, 1, 1, SsimWindow).expand(channels, 1, 1, SsimWindow).contiguous();
    }

    private static Tensor Blur(Tensor t, Tensor g)
    {
        long c = t.shape[1];
        var rows = nn.functional.conv2d(t, g, groups: c);                       // along W
        return nn.functional.conv2d(rows, g.transpose(2, 3), groups: c);         // along H
    }
}
