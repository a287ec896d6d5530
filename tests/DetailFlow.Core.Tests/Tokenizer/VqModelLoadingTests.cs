using DetailFlow.Core.Checkpoints;
using DetailFlow.Parity;
using DetailFlow.Core.Tokenizer;
using TorchSharp;
using TorchSharp.PyBridge;
using static TorchSharp.torch;

namespace DetailFlow.Core.Tests.Tokenizer;

public class VqModelLoadingTests
{
    private static string VqDir => TestFixtures.Set.VqDir(TestFixtures.Set.VqTag);
    private static TokenizerConfig FixtureConfig => TokenizerConfig.Load(Path.Combine(VqDir, "config.json"));

    [Fact]
    public void StateDictKeysAndShapesEqualTheOfficialWeights()
    {
        using var official = RawTensorFile.Open(Path.Combine(VqDir, "weights.json"));
        using var model = new VqModel(FixtureConfig);
        var ours = model.state_dict().ToDictionary(kv => kv.Key, kv => string.Join(",", kv.Value.shape));
        var theirs = official.Tensors.ToDictionary(kv => kv.Key, kv => string.Join(",", kv.Value.shape));
        Assert.Equal(theirs.Keys.Order(StringComparer.Ordinal), ours.Keys.Order(StringComparer.Ordinal));
        foreach (var (key, shape) in theirs) Assert.True(shape == ours[key], $"{key}: ours [{ours[key]}], official [{shape}]");
    }

    [Fact]
    public void DecoderOnlyModelHasNoEncoderSideKeys()
    {
        using var model = new VqModel(FixtureConfig, decoderOnly: true);
        var keys = model.state_dict().Keys.ToList();
        Assert.DoesNotContain(keys, k => k.StartsWith("encoder.") || k.StartsWith("quant_conv.") || k.StartsWith("refine_conv."));
        Assert.Contains("decoder.to_pixel.model.weight", keys);
        Assert.Contains("quantize.embedding.weight", keys);
        using var image = torch.zeros(1, 3, 32, 32);
        var e = Assert.Throws<InvalidOperationException>(() => model.Encode(image));
        Assert.Contains("decoder-only", e.Message);
    }

    [Fact]
    public void StateDictCheckpointAndSafetensorsDecodeIdentically()
    {
        string safetensors = Path.Combine(Path.GetTempPath(), $"vq_{Guid.NewGuid():N}.safetensors");
        try
        {
            var flat = CheckpointReader.Read(Path.Combine(VqDir, "state_dict.pt"), CheckpointEntry.Model);
            Safetensors.SaveStateDict(safetensors, flat);
            foreach (var t in flat.Values) t.Dispose();

            using var codes = torch.tensor(new long[] { 3, 17, 0, 63, 5, 9, 22, 41 }, [1, 8]);
            var outputs = new List<Tensor>();
            foreach (var (path, decoderOnly) in new[]
                     {
                         (Path.Combine(VqDir, "state_dict.pt"), false),
                         (Path.Combine(VqDir, "checkpoint.pt"), false),
                         (safetensors, false),
                         (Path.Combine(VqDir, "checkpoint.pt"), true),
                     })
            {
                using var model = VqModel.Load(path, FixtureConfig, CheckpointEntry.Model, decoderOnly: decoderOnly);
                outputs.Add(model.Decode(codes, 8, 16));
            }
            Assert.Equal([1L, 3, 16, 16], outputs[0].shape);
            Assert.True(outputs[0].abs().sum().item<float>() > 0);
            foreach (var other in outputs.Skip(1)) Assert.True(other.shape.SequenceEqual(outputs[0].shape) && other.eq(outputs[0]).all().item<bool>(), "decoded pixels differ between checkpoint formats");
            foreach (var t in outputs) t.Dispose();
        }
        finally { File.Delete(safetensors); }
    }

    [Fact]
    public void ConfigIsFoundBesideTheCheckpoint()
    {
        // vq_<tag>/checkpoint.pt has config.json beside it (no grand-parent config).
        using var model = VqModel.Load(Path.Combine(VqDir, "checkpoint.pt"));
        Assert.Equal(FixtureConfig.NumLatentTokens, model.NumLatentTokens);
        Assert.Equal(FixtureConfig.Dec.HiddenSize, model.decoder.mask_token.shape[2]);
    }

    [Fact]
    public void ModelLoadedInsideADisposeScopeSurvivesIt()
    {
        VqModel model;
        using (torch.NewDisposeScope()) model = TokenizerFixtureModel.Load(TestFixtures.Set);
        using (model)
        {
            GC.Collect();
            using var codes = torch.zeros(1, 4, dtype: int64);
            using var pixels = model.Decode(codes, 4, 8);
            Assert.Equal([1L, 3, 8, 8], pixels.shape);
        }
    }

    [Fact]
    public void Bfloat16ModelDecodesAndEncodesCloseToFloat32()
    {
        string path = Path.Combine(VqDir, "checkpoint.pt");
        using var f32 = VqModel.Load(path, FixtureConfig);
        using var b16 = VqModel.Load(path, FixtureConfig, dtype: bfloat16);
        Assert.Equal(bfloat16, b16.DType);
        Assert.Equal(float32, b16.quantize.embedding.weight!.dtype); // lookup stays float32, as under autocast
        using var codes = torch.tensor(new long[] { 3, 17, 0, 63, 5, 9, 22, 41 }, [1, 8]);
        using var a = f32.Decode(codes, 8, 16);
        using var b = b16.Decode(codes, 8, 16);
        Assert.Equal(bfloat16, b.dtype);
        double diff = (a - b.to(float32)).abs().max().item<float>();
        Assert.True(diff > 0 && diff < 0.1, $"bf16 decode differs from float32 by {diff}");
        using var image = torch.rand(1, 3, 32, 32) * 2 - 1;
        var (codes16, quant16) = b16.Encode(image);
        Assert.Equal([1L, FixtureConfig.NumLatentTokens], codes16.shape);
        Assert.Equal(float32, quant16.dtype);
    }

    [Fact]
    public void MissingKeyIsNamed() => AssertMismatch(sd =>
    {
        sd.Remove("decoder.visual_model.encoder.layers.1.mlp.fc2.bias", out var t);
        t!.Dispose();
    }, "missing", "decoder.visual_model.encoder.layers.1.mlp.fc2.bias");

    [Fact]
    public void UnexpectedKeyIsNamed() => AssertMismatch(sd => sd["decoder.extra_head.weight"] = torch.zeros(2, 2),
        "unexpected", "decoder.extra_head.weight");

    [Fact]
    public void MisShapedKeyIsNamed() => AssertMismatch(sd =>
    {
        sd["post_quant_conv.weight"].Dispose();
        sd["post_quant_conv.weight"] = torch.zeros(5, 5);
    }, "wrong shapes", "post_quant_conv.weight");

    [Fact]
    public void DecoderOnlyLoadSkipsEncoderKeysButStillNamesOthers()
    {
        var sd = CheckpointReader.Read(Path.Combine(VqDir, "state_dict.pt"), CheckpointEntry.Model);
        sd["decoder.bogus"] = torch.zeros(1);
        try
        {
            using var model = new VqModel(FixtureConfig, decoderOnly: true);
            Assert.True(model.IsSkippedKey("encoder.latent_tokens"));
            Assert.True(model.IsSkippedKey("quant_conv.weight"));
            Assert.False(model.IsSkippedKey("decoder.bogus"));
            var e = Assert.Throws<CheckpointMismatchException>(() => model.LoadWeights(sd, "test"));
            Assert.Equal(["decoder.bogus"], e.Unexpected);
            Assert.Empty(e.Missing);
            Assert.DoesNotContain("encoder.", e.Message);
        }
        finally { foreach (var t in sd.Values) t.Dispose(); }
    }

    private static void AssertMismatch(Action<Dictionary<string, Tensor>> edit, string kind, string key)
    {
        var sd = CheckpointReader.Read(Path.Combine(VqDir, "state_dict.pt"), CheckpointEntry.Model);
        try
        {
            edit(sd);
            using var model = new VqModel(FixtureConfig);
            var e = Assert.Throws<CheckpointMismatchException>(() => model.LoadWeights(sd, "edited state_dict.pt"));
            Assert.Contains(kind, e.Message);
            Assert.Contains(key, e.Message);
        }
        finally { foreach (var t in sd.Values) t.Dispose(); }
    }
}
