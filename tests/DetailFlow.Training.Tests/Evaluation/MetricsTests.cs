using DetailFlow.Training.Evaluation;
using TorchSharp;
using static TorchSharp.torch;

namespace DetailFlow.Training.Tests.Evaluation;

public class InceptionScoreTests
{
    [Fact]
    public void UniformPredictions_ScoreOne()
    {
        var (mean, std) = InceptionScore.Compute(zeros(200, 1008), splits: 10);
        Assert.Equal(1.0, mean, 1e-12);
        Assert.Equal(0.0, std, 1e-12);
    }

    [Fact]
    public void OneHotDistinct_ScoresTheNumberOfClasses()
    {
        // 20 samples, each certain of its own class: KL(p(y|x) ‖ p(y)) = log 20 for every sample.
        var (mean, _) = InceptionScore.Compute(eye(20, dtype: float64) * 60, splits: 1, shuffleSeed: null);
        Assert.Equal(20.0, mean, 1e-9);
        // 10 splits of 10 samples cycling through 10 classes: every split scores 10.
        var cyclic = eye(10, dtype: float64).repeat(10, 1) * 60;
        var (m10, s10) = InceptionScore.Compute(cyclic, splits: 10, shuffleSeed: null);
        Assert.Equal(10.0, m10, 1e-9);
        Assert.Equal(0.0, s10, 1e-9);
    }

    [Fact]
    public void ClassOrderedSamples_NeedTheShuffle()
    {
        // 1000 samples sorted by class (100 per class): unshuffled splits each hold one class and score 1.
        var sorted = eye(10, dtype: float64).repeat_interleave(100, 0) * 60;
        Assert.Equal(1.0, InceptionScore.Compute(sorted, splits: 10, shuffleSeed: null).Mean, 1e-9);
        double shuffled = InceptionScore.Compute(sorted, splits: 10).Mean;
        Assert.InRange(shuffled, 9.0, 10.0);
    }

    [Fact]
    public void RejectsMoreSplitsThanSamples() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => InceptionScore.Compute(zeros(5, 3), splits: 10));
}

public class SsimTests
{
    [Fact]
    public void IdenticalImages_ScoreOne()
    {
        var x = rand(new long[] { 2, 3, 16, 16 }, generator: new Generator(1)) * 2 - 1;
        Assert.All(ImageMetrics.Ssim(x, x), s => Assert.Equal(1.0, s, 1e-12));
    }

    [Fact]
    public void ConstantImages_MatchTheLuminanceTerm()
    {
        // No variance: contrast-structure is C2 / C2 = 1 and SSIM = (2ab + C1) / (a² + b² + C1) in [0, 1] units.
        double a = 0.3, b = 0.7, c1 = 1e-4;
        var x = full(new long[] { 1, 3, 12, 12 }, a * 2 - 1, dtype: float64);
        var y = full(new long[] { 1, 3, 12, 12 }, b * 2 - 1, dtype: float64);
        Assert.Equal((2 * a * b + c1) / (a * a + b * b + c1), ImageMetrics.Ssim(x, y)[0], 1e-12);
    }

    [Fact]
    public void MatchesADirectWindowedComputation()
    {
        var g = new Generator(2);
        var x = rand(new long[] { 2, 3, 14, 17 }, dtype: float64, generator: g) * 2 - 1;
        var y = (x + randn(new long[] { 2, 3, 14, 17 }, dtype: float64, generator: g) * 0.3).clamp(-1, 1);
        var ours = ImageMetrics.Ssim(x, y);
        for (int b = 0; b < 2; b++) Assert.Equal(DirectSsim(x[b], y[b]), ours[b], 1e-10);
    }

    [Fact]
    public void RejectsImagesSmallerThanTheWindow() =>
        Assert.Throws<ArgumentException>(() => ImageMetrics.Ssim(zeros(1, 3, 10, 10), zeros(1, 3, 10, 10)));

    /// <summary>SSIM by explicit sums over every valid 11×11 window (2-D Gaussian weights), averaged over positions and channels.</summary>
    private static double DirectSsim(Tensor x, Tensor y)
    {
        int c = (int)x.shape[0], h = (int)x.shape[1], w = (int)x.shape[2];
        var xa = ((x + 1) / 2).data<double>().ToArray();
        var ya = ((y + 1) / 2).data<double>().ToArray();
        var g1 = Enumerable.Range(0, 11).Select(i => Math.Exp(-(i - 5) * (i - 5) / (2 * 1.5 * 1.5))).ToArray();
        double norm = g1.Sum();
        double total = 0;
        for (int ch = 0; ch < c; ch++)
        {
            double sum = 0;
            int count = 0;
            for (int i = 0; i + 11 <= h; i++)
            for (int j = 0; j + 11 <= w; j++)
            {
                double mx = 0, my = 0, sxx = 0, syy = 0, sxy = 0;
                for (int u = 0; u < 11; u++)
                for (int v = 0; v < 11; v++)
                {
                    double wt = g1[u] * g1[v] / (norm * norm);
                    double p = xa[(ch * h + i + u) * w + j + v], q = ya[(ch * h + i + u) * w + j + v];
                    mx += wt * p; my += wt * q; sxx += wt * p * p; syy += wt * q * q; sxy += wt * p * q;
                }
                sxx -= mx * mx; syy -= my * my; sxy -= mx * my;
                sum += (2 * mx * my + 1e-4) * (2 * sxy + 9e-4) / ((mx * mx + my * my + 1e-4) * (sxx + syy + 9e-4));
                count++;
            }
            total += sum / count;
        }
        return total / c;
    }
}

public class FeatureStatisticsTests
{
    [Fact]
    public void Accumulator_MatchesTheOnePassCovariance_WithALargeMean()
    {
        var g = new Generator(3);
        var f = randn(new long[] { 300, 5 }, dtype: float64, generator: g) * 0.01 + 1000;
        using var acc = new FeatureAccumulator();
        foreach (var part in f.split(37)) acc.Add(part);
        using var streamed = acc.ToStatistics();
        var centred = f - f.mean([0]);
        var cov = centred.t().matmul(centred) / 299;
        Assert.Equal(300, streamed.Count);
        Assert.Equal(0, (streamed.Mean - f.mean([0])).abs().max().item<double>(), 1e-10);
        Assert.Equal(0, ((streamed.Covariance - cov).abs().max() / cov.abs().max()).item<double>(), 1e-9);
    }

    [Fact]
    public void TraceOfTheRoot_EqualsTheNonSymmetricEigenvalueForm()
    {
        // torchmetrics: Tr (Σ1Σ2)^½ = Σ sqrt(eigvals(Σ1 Σ2)) (complex, real part); here via the symmetric similar matrix.
        var g = new Generator(4);
        var a = randn(new long[] { 6, 6 }, dtype: float64, generator: g);
        var b = randn(new long[] { 6, 6 }, dtype: float64, generator: g);
        var c1 = a.matmul(a.t()) + eye(6, dtype: float64) * 0.1;
        var c2 = b.matmul(b.t()) + eye(6, dtype: float64) * 0.1;
        var mu = zeros(6, dtype: float64);
        double expected = c1.trace().item<double>() + c2.trace().item<double>()
            - 2 * linalg.eigvals(c1.matmul(c2)).sqrt().real.sum().item<double>();
        Assert.Equal(expected, FeatureStatistics.Frechet(mu, c1, mu, c2), 1e-8);
    }

    [Fact]
    public void SavesAndLoadsNpz_WithMuAndSigma()
    {
        string dir = Directory.CreateTempSubdirectory("dfstats").FullName;
        try
        {
            var f = randn(new long[] { 50, 4 }, dtype: float64, generator: new Generator(5));
            using var stats = FeatureStatistics.Of(f);
            string path = Path.Combine(dir, "stats.npz");
            stats.Save(path);
            using (var zip = System.IO.Compression.ZipFile.OpenRead(path))
                Assert.Equal(new[] { "mu.npy", "sigma.npy" }, zip.Entries.Select(e => e.FullName).Order());
            using var loaded = FeatureStatistics.Load(path);
            Assert.Equal(stats.Mean.data<double>().ToArray(), loaded.Mean.data<double>().ToArray());
            Assert.Equal(stats.Covariance.data<double>().ToArray(), loaded.Covariance.data<double>().ToArray());
            Assert.Equal(0, loaded.FrechetDistance(stats), 1e-10);
            var missing = Assert.Throws<FileNotFoundException>(() => FeatureStatistics.Load(Path.Combine(dir, "none.npz")));
            Assert.Contains("none.npz", missing.Message);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void Frechet_RejectsDifferentDimensions()
    {
        using var a = FeatureStatistics.Of(randn(10, 3));
        using var b = FeatureStatistics.Of(randn(10, 4));
        Assert.Throws<ArgumentException>(() => a.FrechetDistance(b));
    }
}
