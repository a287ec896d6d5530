using DetailFlow.Training.Data;
using TorchSharp;
using static TorchSharp.torch;

namespace DetailFlow.Training.Evaluation;

/// <summary>
/// Mean [D] and covariance [D, D] (unbiased, as <c>np.cov(rowvar=False)</c>) of a feature set, in float64 — the FID
/// statistics. Saved as <c>.npz</c> with arrays <c>mu</c> and <c>sigma</c>, the layout pytorch-fid's reference
/// statistics and the ADM evaluator's reference batches use, so those files load here and ours load there.
/// </summary>
public sealed class FeatureStatistics : IDisposable
{
    public FeatureStatistics(Tensor mean, Tensor covariance, long count)
    {
        if (mean.dim() != 1 || covariance.dim() != 2 || covariance.shape[0] != mean.shape[0] || covariance.shape[1] != mean.shape[0])
            throw new ArgumentException($"mean [D] and covariance [D, D] expected, got [{string.Join(", ", mean.shape)}] and [{string.Join(", ", covariance.shape)}]");
        // Own copies, outside any dispose scope of the caller: the statistics live until disposed.
        Mean = mean.to(float64).cpu().clone().DetachFromDisposeScope();
        Covariance = covariance.to(float64).cpu().clone().DetachFromDisposeScope();
        Count = count;
    }

    public Tensor Mean { get; }
    public Tensor Covariance { get; }

    /// <summary>Number of feature vectors (0 when loaded from a file that does not say).</summary>
    public long Count { get; }

    public long Dim => Mean.shape[0];

    /// <summary>Statistics of features [M ≥ 2, D].</summary>
    public static FeatureStatistics Of(Tensor features)
    {
        var accumulator = new FeatureAccumulator();
        accumulator.Add(features);
        using (accumulator) return accumulator.ToStatistics();
    }

    /// <summary>FID between two feature sets [M1, D] and [M2, D].</summary>
    public static double Fid(Tensor features1, Tensor features2)
    {
        using var a = Of(features1);
        using var b = Of(features2);
        return a.FrechetDistance(b);
    }

    public double FrechetDistance(FeatureStatistics other)
    {
        if (other.Dim != Dim) throw new ArgumentException($"feature dimensions differ: {Dim} vs {other.Dim} (statistics from different networks?)", nameof(other));
        return Frechet(Mean, Covariance, other.Mean, other.Covariance);
    }

    /// <summary>
    /// Fréchet distance ‖μ1 − μ2‖² + Tr Σ1 + Tr Σ2 − 2 Tr (Σ1 Σ2)^½, in float64. Tr (Σ1 Σ2)^½ is the sum of the square
    /// roots of the eigenvalues of Σ1 Σ2 (torch-fidelity / torchmetrics' eigenvalue form); they are computed as the
    /// eigenvalues of the similar symmetric PSD matrix Σ1^½ Σ2 Σ1^½ (symmetric eigen-decompositions, eigenvalues
    /// clamped at 0), which avoids complex round-off from the non-symmetric product.
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

    public void Save(string path)
    {
        string? dir = Path.GetDirectoryName(Path.GetFullPath(path));
        if (dir is not null) Directory.CreateDirectory(dir);
        NpzFile.WriteFloat64(path, new Dictionary<string, (double[], long[])>
        {
            ["mu"] = (Mean.data<double>().ToArray(), [Dim]),
            ["sigma"] = (Covariance.contiguous().data<double>().ToArray(), [Dim, Dim]),
        });
    }

    /// <summary>Loads <c>mu</c> and <c>sigma</c> from an <c>.npz</c> (ours, pytorch-fid's, or an ADM reference batch).</summary>
    public static FeatureStatistics Load(string path)
    {
        var arrays = NpzFile.ReadFloat64(path, "mu", "sigma");
        var (mu, muShape) = arrays["mu"];
        var (sigma, sigmaShape) = arrays["sigma"];
        if (muShape.Length != 1 || sigmaShape.Length != 2 || sigmaShape[0] != muShape[0] || sigmaShape[1] != muShape[0])
            throw new InvalidDataException($"{path}: mu [{string.Join(", ", muShape)}] and sigma [{string.Join(", ", sigmaShape)}] are not [D] and [D, D]");
        using var m = tensor(mu, muShape);
        using var s = tensor(sigma, sigmaShape);
        return new FeatureStatistics(m, s, 0);
    }

    public void Dispose()
    {
        Mean.Dispose();
        Covariance.Dispose();
    }

    private static Tensor Symmetrize(Tensor m) => (m + m.t()) / 2;
}
