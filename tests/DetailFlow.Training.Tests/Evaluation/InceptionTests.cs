using DetailFlow.Core.Checkpoints;
using DetailFlow.Training.Evaluation.Inception;
using TorchSharp;
using TorchSharp.PyBridge;
using static TorchSharp.torch;

namespace DetailFlow.Training.Tests.Evaluation;

public class InceptionTests
{
    // pytorch-fid's fid_inception_v3 / torch-fidelity's FeatureExtractorInceptionV3: block → its BasicConv2d units.
    private static readonly string[] A = ["branch1x1", "branch5x5_1", "branch5x5_2", "branch3x3dbl_1", "branch3x3dbl_2", "branch3x3dbl_3", "branch_pool"];
    private static readonly string[] B = ["branch3x3", "branch3x3dbl_1", "branch3x3dbl_2", "branch3x3dbl_3"];
    private static readonly string[] C = ["branch1x1", "branch7x7_1", "branch7x7_2", "branch7x7_3", "branch7x7dbl_1", "branch7x7dbl_2", "branch7x7dbl_3", "branch7x7dbl_4", "branch7x7dbl_5", "branch_pool"];
    private static readonly string[] D = ["branch3x3_1", "branch3x3_2", "branch7x7x3_1", "branch7x7x3_2", "branch7x7x3_3", "branch7x7x3_4"];
    private static readonly string[] E = ["branch1x1", "branch3x3_1", "branch3x3_2a", "branch3x3_2b", "branch3x3dbl_1", "branch3x3dbl_2", "branch3x3dbl_3a", "branch3x3dbl_3b", "branch_pool"];

    private static IEnumerable<string> ExpectedKeys()
    {
        var units = new List<string> { "Conv2d_1a_3x3", "Conv2d_2a_3x3", "Conv2d_2b_3x3", "Conv2d_3b_1x1", "Conv2d_4a_3x3" };
        foreach (var (block, branches) in new (string, string[])[]
                 {
                     ("Mixed_5b", A), ("Mixed_5c", A), ("Mixed_5d", A), ("Mixed_6a", B), ("Mixed_6b", C), ("Mixed_6c", C),
                     ("Mixed_6d", C), ("Mixed_6e", C), ("Mixed_7a", D), ("Mixed_7b", E), ("Mixed_7c", E),
                 })
            units.AddRange(branches.Select(b => $"{block}.{b}"));
        foreach (var u in units)
        {
            yield return u + ".conv.weight";
            foreach (var p in new[] { "weight", "bias", "running_mean", "running_var" }) yield return $"{u}.bn.{p}";
        }
        yield return "fc.weight";
        yield return "fc.bias";
    }

    /// <summary>
    /// Random init shrinks activations ~6× in variance per conv + ReLU, so pool3 of a fresh network is ~0 everywhere; scaling
    /// every conv weight by √6 keeps them O(1), so comparisons below compare real numbers.
    /// </summary>
    private static FidInceptionV3 LivelyRandomNetwork(int seed)
    {
        manual_seed(seed);
        var net = new FidInceptionV3();
        using (no_grad())
            foreach (var p in net.parameters().Where(p => p.dim() == 4)) p.mul_(Math.Sqrt(6));
        net.eval();
        return net;
    }

    [Fact]
    public void StateDict_HasThePytorchFidKeys_AndShapes()
    {
        using var net = new FidInceptionV3();
        var keys = net.state_dict().Keys.Where(k => !k.EndsWith(".num_batches_tracked")).ToList();
        Assert.Equal(472, keys.Count);
        Assert.Equal(ExpectedKeys().Order(StringComparer.Ordinal), keys.Order(StringComparer.Ordinal));
        var sd = net.state_dict();
        Assert.Equal(new long[] { 32, 3, 3, 3 }, sd["Conv2d_1a_3x3.conv.weight"].shape);
        Assert.Equal(new long[] { 64, 48, 5, 5 }, sd["Mixed_5b.branch5x5_2.conv.weight"].shape);
        Assert.Equal(new long[] { 32, 192, 1, 1 }, sd["Mixed_5b.branch_pool.conv.weight"].shape);
        Assert.Equal(new long[] { 128, 128, 1, 7 }, sd["Mixed_6b.branch7x7_2.conv.weight"].shape);
        Assert.Equal(new long[] { 384, 384, 3, 1 }, sd["Mixed_7c.branch3x3dbl_3b.conv.weight"].shape);
        Assert.Equal(new long[] { 192, 2048, 1, 1 }, sd["Mixed_7c.branch_pool.conv.weight"].shape);
        Assert.Equal(new long[] { 1008, 2048 }, sd["fc.weight"].shape);
        // torchvision's Inception-v3 without the auxiliary head (23,834,568) with a 1008-way fc instead of 1000.
        Assert.Equal(23_850_960, net.parameters().Sum(p => p.numel()));
    }

    [Fact]
    public void RandomWeights_299Input_Gives2048FeaturesAnd1008Logits()
    {
        using var net = LivelyRandomNetwork(11);
        using var noGrad = no_grad();
        var pool = net.forward(rand(2, 3, 299, 299) * 2 - 1);
        Assert.Equal(new long[] { 2, 2048 }, pool.shape);
        Assert.True(pool.min().item<float>() >= 0, "pool3 follows a ReLU and an average");
        Assert.True(pool.mean().item<float>() > 1e-2, $"pool3 mean {pool.mean().item<float>()}");
        Assert.Equal(new long[] { 2, 1008 }, net.LogitsUnbiased(pool).shape);
        Assert.True(net.Logits(pool).allclose(net.LogitsUnbiased(pool) + net.state_dict()["fc.bias"], rtol: 1e-5, atol: 1e-5));
    }

    [Fact]
    public void LoadsAPthKeyForKey_AndExtractsFromUint8Images()
    {
        string dir = Directory.CreateTempSubdirectory("dfinception").FullName;
        try
        {
            using var original = LivelyRandomNetwork(12);
            string pth = Path.Combine(dir, InceptionFeatureExtractor.WeightsFileName);
            // As the released file: a flat state dict without BatchNorm's step counters.
            var skip = original.state_dict().Keys.Where(k => k.EndsWith(".num_batches_tracked")).ToList();
            original.save_py(pth, skip);
            using var extractor = InceptionFeatureExtractor.Load(pth, InceptionResize.TorchFidelity);
            var images = randint(0, 256, new long[] { 2, 3, 64, 48 }, generator: new Generator(13)).to(ScalarType.Byte);
            var (features, logits) = extractor.Extract(images);
            Assert.Equal(new long[] { 2, 2048 }, features.shape);
            Assert.Equal(new long[] { 2, 1008 }, logits.shape);
            Assert.Equal(ScalarType.Float64, features.dtype);
            using (no_grad())
            {
                var expected = original.forward(InceptionPreprocessing.Apply(images, InceptionResize.TorchFidelity)).to(float64);
                Assert.True(expected.abs().mean().item<double>() > 1e-2, "features must not vanish for the comparison to mean anything");
                Assert.True(features.allclose(expected, rtol: 1e-4, atol: 1e-5));
                Assert.False(features[0].allclose(features[1]), "different images, different features");
            }

            // A file with a foreign key fails loudly, naming it.
            var sd = original.state_dict().Where(kv => !kv.Key.EndsWith(".num_batches_tracked")).ToDictionary(kv => kv.Key, kv => kv.Value);
            sd["AuxLogits.fc.weight"] = zeros(1000, 768);
            string bad = Path.Combine(dir, "bad.safetensors");
            Safetensors.SaveStateDict(bad, sd);
            var e = Assert.Throws<CheckpointMismatchException>(() => InceptionFeatureExtractor.LoadNetwork(bad));
            Assert.Contains("AuxLogits.fc.weight", e.Message);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void MissingWeights_MessageNamesTheFileAndWhereItComesFrom()
    {
        var e = Assert.Throws<FileNotFoundException>(() => InceptionFeatureExtractor.Load("/nonexistent/inception.pth"));
        Assert.Contains("/nonexistent/inception.pth", e.Message);
        Assert.Contains(InceptionFeatureExtractor.WeightsFileName, e.Message);
        Assert.Contains(InceptionFeatureExtractor.WeightsUrl, e.Message);
    }

    [Fact]
    public void TorchFidelityResize_IsTensorflow1Bilinear()
    {
        // 1-D ramp 0, 10, 20, 30 (4 → 6): source = d · 4/6 → 0, 0.667, 1.333, 2, 2.667, 3.333 (clamped to the last pixel).
        var x = tensor(new float[] { 0, 10, 20, 30 }).view(1, 1, 1, 4).expand(1, 1, 4, 4).contiguous();
        var y = InceptionPreprocessing.ResizeLikeTensorflow1(x, 6);
        Assert.Equal(new long[] { 1, 1, 6, 6 }, y.shape);
        float[] expected = [0f, 20f / 3, 40f / 3, 20f, 80f / 3, 30f];
        var row = y[0, 0, 0].data<float>().ToArray();
        for (int i = 0; i < 6; i++) Assert.Equal(expected[i], row[i], 1e-4f);
    }

    [Fact]
    public void Preprocessing_ScalesToMinusOneOne()
    {
        var black = zeros(new long[] { 1, 3, 8, 8 }, dtype: ScalarType.Byte);
        var white = full(new long[] { 1, 3, 8, 8 }, 255, dtype: ScalarType.Byte);
        Assert.Equal(-1f, InceptionPreprocessing.Apply(black, InceptionResize.PytorchFid).min().item<float>(), 1e-6f);
        Assert.Equal(1f, InceptionPreprocessing.Apply(white, InceptionResize.PytorchFid).max().item<float>(), 1e-6f);
        Assert.Equal(-1f, InceptionPreprocessing.Apply(black, InceptionResize.TorchFidelity).min().item<float>(), 1e-6f);
        Assert.Equal(127f / 128, InceptionPreprocessing.Apply(white, InceptionResize.TorchFidelity).max().item<float>(), 1e-6f);
        Assert.Equal(new long[] { 1, 3, 299, 299 }, InceptionPreprocessing.Apply(white, InceptionResize.TorchFidelity).shape);
    }
}
