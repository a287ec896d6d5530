using TorchSharp;
using static TorchSharp.torch;

namespace DetailFlow.Training.Evaluation;

/// <summary>Reconstruction PSNR and the Fréchet distance (FID formula) between two feature sets, in float64.</summary>
public static class ImageMetrics
{
    /// <summary>
    /// Per-image PSNR in dB of <paramref name="reconstructed"/> against <paramref name="reference"/>, both [B, ...] in
    /// [−1, 1] (mapped to [0, 1], reconstruction clamped as when saved): 10·log10(1 / MSE). Identical images give +∞.
    /// </summary>
    public static double[] Psnr(Tensor reference, Tensor reconstructed)
    {
        using var scope = NewDisposeScope();
        var a = ((reference.to(float64) + 1) / 2).flatten(1);
        var b = ((reconstructed.to(float64) + 1) / 2).clamp(0, 1).flatten(1);
        var mse = (a - b).square().mean([1]);
        return (-10 * mse.log10()).data<double>().ToArray();
    }

    /// <summary>Mean [D] and covariance [D, D] (unbiased, as numpy.cov) of features [M, D], in float64.</summary>
    public static (Tensor Mean, Tensor Cov) Statistics(Tensor features)
    {
        if (features.dim() != 2 || features.shape[0] < 2) throw new ArgumentException("features must be [M ≥ 2, D]", nameof(features));
        using var scope = NewDisposeScope();
        var f = features.to(float64);
        var mu = f.mean([0]);
        var c = f - mu;
        var cov = c.t().matmul(c) / (f.shape[0] - 1);
        return (mu.MoveToOuterDisposeScope(), cov.MoveToOuterDisposeScope());
    }

    /// <summary>
    /// Fréchet distance ‖μ1 − μ2‖² + Tr(Σ1 + Σ2 − 2 (Σ1 Σ2)^½). Tr (Σ1 Σ2)^½ = Tr (Σ1^½ Σ2 Σ1^½)^½, the square root of a
    /// symmetric PSD matrix: Σ1^½ and that root from symmetric eigen-decompositions (eigenvalues clamped at 0), float64.
    /// </summary>
    public static double Frechet(Tensor mu1, Tensor cov1, Tensor mu2, Tensor cov2)
    {
        using var scope = NewDisposeScope();
        mu1 = mu1.to(float64); mu2 = mu2.to(float64); cov1 = cov1.to(float64); cov2 = cov2.to(float64);
        var (l1, v1) = linalg.eigh(Symmetrize(cov1));
        var sqrt1 = v1.matmul(diag(l1.clamp_min(0).sqrt())).matmul(v1.t());
        var m = Symmetrize(sqrt1.matmul(cov2).matmul(sqrt1));
        double traceSqrt = linalg.eigvalsh(m).clamp_min(0).sqrt().sum().item<double>();
        double meanTerm = (mu1 - mu2).square().sum().item<double>();
        return meanTerm + cov1.trace().item<double>() + cov2.trace().item<double>() - 2 * traceSqrt;
    }

    /// <summary>FID between two feature sets [M1, D] and [M2, D].</summary>
    public static double Fid(Tensor features1, Tensor features2)
    {
        var (m1, c1) = Statistics(features1);
        var (m2, c2) = Statistics(features2);
        using (m1) using (c1) using (m2) using (c2) return Frechet(m1, c1, m2, c2);
    }

    private static Tensor Symmetrize(Tensor m) => (m + m.t()) / 2;
}
