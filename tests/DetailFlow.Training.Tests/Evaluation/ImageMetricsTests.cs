using DetailFlow.Training.Evaluation;
using TorchSharp;
using static TorchSharp.torch;

namespace DetailFlow.Training.Tests.Evaluation;

public class ImageMetricsTests
{
    private static Tensor RandomSpd(int d, int seed)
    {
        var g = new Generator((ulong)seed);
        var a = randn([d, d], dtype: float64, generator: g);
        return a.matmul(a.t()) / d + eye(d, dtype: float64) * 0.1;
    }

    [Fact]
    public void Frechet_DiagonalGaussians_MatchesClosedForm()
    {
        var mu1 = tensor(new[] { 0.0, 1.0, 2.0 });
        var mu2 = tensor(new[] { 1.0, 1.0, 0.0 });
        double[] a = [1.0, 4.0, 0.25], b = [9.0, 1.0, 0.25];
        double expected = 1 + 0 + 4 + a.Zip(b).Sum(p => p.First + p.Second - 2 * Math.Sqrt(p.First * p.Second));
        Assert.Equal(expected, FeatureStatistics.Frechet(mu1, diag(tensor(a)), mu2, diag(tensor(b))), 1e-9);
    }

    [Fact]
    public void Frechet_ScaledCovariance_MatchesClosedForm()
    {
        // Σ2 = 4 Σ1 commutes with Σ1: Tr (Σ1 Σ2)^½ = 2 Tr Σ1, so FID = ‖Δμ‖² + Tr Σ1 + 4 Tr Σ1 − 4 Tr Σ1 = ‖Δμ‖² + Tr Σ1.
        var cov = RandomSpd(8, 1);
        var mu1 = zeros(8, dtype: float64);
        var mu2 = full(8, 0.5, dtype: float64);
        Assert.Equal(8 * 0.25 + cov.trace().item<double>(), FeatureStatistics.Frechet(mu1, cov, mu2, cov * 4), 1e-8);
    }

    [Fact]
    public void Frechet_IsSymmetric_AndZeroForIdenticalSets()
    {
        var c1 = RandomSpd(6, 2);
        var c2 = RandomSpd(6, 3);
        var m1 = randn(6, dtype: float64, generator: new Generator(4));
        var m2 = randn(6, dtype: float64, generator: new Generator(5));
        Assert.Equal(FeatureStatistics.Frechet(m1, c1, m2, c2), FeatureStatistics.Frechet(m2, c2, m1, c1), 1e-8);
        Assert.True(FeatureStatistics.Frechet(m1, c1, m2, c2) > 0);
        var x = randn([200, 6], dtype: float32, generator: new Generator(6));
        Assert.Equal(0, FeatureStatistics.Fid(x, x), 1e-6);
    }

    [Fact]
    public void Fid_OfSamples_ApproachesTheGaussianValue()
    {
        // 20,000 samples of N(0, I) and N(1·0.5, 4 I) in 4-d: FID = 4·0.25 + 4·(1 + 4 − 4) = 5.
        var g = new Generator(7);
        var x = randn([20000, 4], dtype: float64, generator: g);
        var y = randn([20000, 4], dtype: float64, generator: g) * 2 + 0.5;
        Assert.Equal(5.0, FeatureStatistics.Fid(x, y), 0.2);
    }

    [Fact]
    public void Psnr_KnownValues()
    {
        var reference = zeros(2, 3, 4, 4);
        var recon = reference.clone();
        recon[0] += 0.2f;  // 0.1 in [0, 1] → MSE 0.01 → 20 dB
        recon[1] -= 0.02f; // 0.01 → MSE 1e-4 → 40 dB
        var psnr = ImageMetrics.Psnr(reference, recon);
        Assert.Equal(20, psnr[0], 1e-4);
        Assert.Equal(40, psnr[1], 1e-3);
        Assert.True(double.IsPositiveInfinity(ImageMetrics.Psnr(reference, reference)[0]));
    }

    [Fact]
    public void Classifier_GivesLogitsAndPenultimateFeatures()
    {
        using var c = new FashionClassifier();
        var (pred, features) = c.Predict(zeros(3, 3, 32, 32));
        Assert.Equal(3, pred.Length);
        Assert.Equal(new long[] { 3, 128 }, features.shape);
        Assert.Equal(new long[] { 2, 10 }, c.forward(zeros(2, 1, 32, 32)).shape);
    }
}
