using System.Diagnostics;
using DetailFlow.Core.Checkpoints;
using DetailFlow.Core.Gpt;
using TorchSharp;
using TorchSharp.PyBridge;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace DetailFlow.Core.Tests.Gpt;

public sealed class GptLoadingTests(ITestOutputHelper output) : IDisposable
{
    private const string Tag = "tiny_c8";
    private readonly string _temp = Directory.CreateTempSubdirectory("gpt-load-").FullName;

    [Fact]
    public void Load_FlatNestedAndSafetensors_GiveIdenticalLogits()
    {
        string safetensors = Path.Combine(_temp, "weights.safetensors");
        var flat = CheckpointReader.Read(Path.Combine(GptTestModels.Dir(Tag), "state_dict.pt"), CheckpointEntry.Ema);
        Safetensors.SaveStateDict(safetensors, flat);
        foreach (var t in flat.Values) t.Dispose();

        var config = GptTestModels.Config(Tag);
        using var nested = GptTransformer.Load(Path.Combine(GptTestModels.Dir(Tag), "checkpoint.pt"), config);
        using var plain = GptTransformer.Load(Path.Combine(GptTestModels.Dir(Tag), "state_dict.pt"), config);
        using var safe = GptTransformer.Load(safetensors, config);
        using var noGrad = torch.no_grad();
        using var scope = torch.NewDisposeScope();
        var codes = torch.randint(0, config.VocabSize, [3, 20], dtype: int64);
        var classes = torch.tensor(new long[] { 0, 4, config.NullClass });
        var reference = nested.Forward(codes, classes);
        TensorAssert.Identical(reference, plain.Forward(codes, classes));
        TensorAssert.Identical(reference, safe.Forward(codes, classes));
        Assert.Equal(0, reference.isnan().sum().item<long>());
    }

    [Fact]
    public void StateDict_HasExactlyTheCheckpointKeysAndShapes()
    {
        var checkpoint = CheckpointReader.Read(Path.Combine(GptTestModels.Dir(Tag), "checkpoint.pt"), CheckpointEntry.Ema);
        using var model = new GptTransformer(GptTestModels.Config(Tag));
        var mine = model.state_dict();
        Assert.Equal(checkpoint.Keys.Order(StringComparer.Ordinal), mine.Keys.Order(StringComparer.Ordinal));
        foreach (var (key, tensor) in checkpoint) Assert.Equal(tensor.shape, mine[key].shape);
        Assert.Empty(model.buffers());
        foreach (var t in checkpoint.Values) t.Dispose();
    }

    [Fact]
    public void Load_MissingKey_FailsNamingTheKey()
    {
        var e = LoadEdited(sd => { sd["layers.1.feed_forward.w3.weight"].Dispose(); sd.Remove("layers.1.feed_forward.w3.weight"); });
        Assert.Contains("missing", e.Message);
        Assert.Contains("layers.1.feed_forward.w3.weight", e.Message);
    }

    [Fact]
    public void Load_UnexpectedKey_FailsNamingTheKey()
    {
        var e = LoadEdited(sd => sd["layers.0.attention.wk.weight"] = torch.zeros(4, 4));
        Assert.Contains("unexpected", e.Message);
        Assert.Contains("layers.0.attention.wk.weight", e.Message);
    }

    [Fact]
    public void Load_WrongShape_FailsNamingTheKey()
    {
        var e = LoadEdited(sd => { sd["norm.weight"].Dispose(); sd["norm.weight"] = torch.ones(65); });
        Assert.Contains("wrong shapes", e.Message);
        Assert.Contains("norm.weight", e.Message);
    }

    [Fact]
    public void Load_WithoutConfig_ReadsConfigJsonTwoFoldersUp()
    {
        // Official layout: <repo>/checkpoints/N.pt with <repo>/config.json (spec §4).
        string checkpoints = Directory.CreateDirectory(Path.Combine(_temp, "checkpoints")).FullName;
        File.Copy(Path.Combine(GptTestModels.Dir(Tag), "checkpoint.pt"), Path.Combine(checkpoints, "32.pt"));
        File.Copy(Path.Combine(GptTestModels.Dir(Tag), "config.json"), Path.Combine(_temp, "config.json"));
        using var model = GptTransformer.Load(Path.Combine(checkpoints, "32.pt"));
        Assert.Equal(GptTestModels.Config(Tag), model.Config);
        Assert.Equal(8, model.Config.EffectiveCausalNum);
    }

    [Fact]
    public void Load_WithoutAnyConfig_FailsNamingConfigJson()
    {
        string path = Path.Combine(_temp, "lonely.pt");
        File.Copy(Path.Combine(GptTestModels.Dir(Tag), "checkpoint.pt"), path);
        var e = Assert.Throws<FileNotFoundException>(() => GptTransformer.Load(path));
        Assert.Contains("config.json", e.Message);
    }

    [Theory]
    [InlineData(ScalarType.Float16)]
    [InlineData(ScalarType.BFloat16)]
    public void Load_ReducedPrecision_CastsWeightsAndStaysClose(ScalarType dtype)
    {
        var config = GptTestModels.Config(Tag);
        using var full = GptTestModels.Tiny(Tag);
        using var reduced = GptTransformer.Load(Path.Combine(GptTestModels.Dir(Tag), "checkpoint.pt"), config, dtype: dtype);
        Assert.All(reduced.parameters(), p => Assert.Equal(dtype, p.dtype));
        using var noGrad = torch.no_grad();
        using var scope = torch.NewDisposeScope();
        var codes = torch.randint(0, config.VocabSize, [2, 28], dtype: int64);
        var classes = torch.tensor(new long[] { 1, 7 });
        var expected = full.Forward(codes, classes);
        var actual = reduced.Forward(codes, classes);
        Assert.Equal(ScalarType.Float32, actual.dtype);
        double diff = (actual - expected).abs().max().item<float>();
        double scale = expected.abs().max().item<float>();
        Assert.True(diff < 0.05 * scale, $"{dtype}: max abs diff {diff} vs logit scale {scale}");
    }

    [Fact]
    public void GptL_RandomModel_HasTheOfficialParameterCountAndRoundTrips()
    {
        // Spec §3.2: GPT-L with vocab 8192, 1000 classes (+ null), G = 8 has 326,140,928 parameters (~1.3 GB fp32).
        var config = new GptConfig { Dim = 1024, NLayer = 24, NHead = 16, VocabSize = 8192, NumClasses = 1000, BlockSize = 128, GroupSize = 8 };
        string path = Path.Combine(_temp, "gpt-l.safetensors");
        var clock = Stopwatch.StartNew();
        float outputSum, lastW2Sum;
        using (var model = new GptTransformer(config))
        {
            Assert.Equal(326_140_928L, model.ParameterCount);
            Assert.Equal([1001L, 1024], model.cls_embedding.embedding_table.weight!.shape);
            Assert.Equal([7L, 1024], model.spe_tok_embeddings.special_embeddings.weight!.shape);
            Assert.Equal([2816L, 1024], model.layers[23].feed_forward.w1.weight!.shape);
            output.WriteLine($"build: {clock.Elapsed.TotalSeconds:F1} s");
            var stateDict = model.state_dict();
            outputSum = stateDict["output.weight"].sum().item<float>();
            lastW2Sum = stateDict["layers.23.feed_forward.w2.weight"].sum().item<float>();
            Safetensors.SaveStateDict(path, stateDict);
            output.WriteLine($"build + save: {clock.Elapsed.TotalSeconds:F1} s");
        }
        using var loaded = GptTransformer.Load(path, config);
        output.WriteLine($"build + save + load: {clock.Elapsed.TotalSeconds:F1} s");
        Assert.Equal(326_140_928L, loaded.ParameterCount);
        var sd = loaded.state_dict();
        Assert.Equal(outputSum, sd["output.weight"].sum().item<float>());
        Assert.Equal(lastW2Sum, sd["layers.23.feed_forward.w2.weight"].sum().item<float>());
    }

    [Fact]
    public void LoadFile_OneTensorAtATime_GivesTheWeightsOfAWholeRead()
    {
        string path = SafetensorsCopy();
        var config = GptTestModels.Config(Tag);
        using var whole = new GptTransformer(config);
        var sd = CheckpointReader.Read(path, CheckpointEntry.Ema);
        StateDictLoader.Load(whole, sd, path);
        foreach (var t in sd.Values) t.Dispose();
        using var chunked = new GptTransformer(config);
        StateDictLoader.LoadFile(chunked, path, CheckpointEntry.Ema, chunkBytes: 1);
        var loaded = chunked.state_dict();
        foreach (var (key, expected) in whole.state_dict()) TensorAssert.Identical(expected, loaded[key]);
    }

    /// <summary>A reduced-precision load converts the model before the weights arrive: the same weights as converting after.</summary>
    [Theory]
    [InlineData(ScalarType.Float16)]
    [InlineData(ScalarType.BFloat16)]
    public void Load_ReducedPrecision_HoldsTheWeightsOfAFullLoadConverted(ScalarType dtype)
    {
        string path = SafetensorsCopy();
        var config = GptTestModels.Config(Tag);
        using var converted = GptTransformer.Load(path, config);
        converted.to(dtype);
        using var reduced = GptTransformer.Load(path, config, dtype: dtype);
        var actual = reduced.state_dict();
        foreach (var (key, expected) in converted.state_dict()) TensorAssert.Identical(expected, actual[key]);
    }

    [Fact]
    public void SafetensorsHeader_ReadsShapesAndSizes_AndRejectsOtherFiles()
    {
        string path = SafetensorsCopy();
        var header = SafetensorsHeader.Read(path);
        Assert.Equal([64L], header["norm.weight"].Shape);
        Assert.Equal(64L * 4, header["norm.weight"].Bytes);
        string junk = Path.Combine(_temp, "junk.safetensors");
        File.WriteAllBytes(junk, [.. BitConverter.GetBytes(1L << 40), 1, 2, 3]);
        Assert.Contains("not a safetensors file", Assert.Throws<InvalidDataException>(() => SafetensorsHeader.Read(junk)).Message);
        File.WriteAllBytes(junk, [1, 2, 3]);
        Assert.Contains("not a safetensors file", Assert.Throws<InvalidDataException>(() => SafetensorsHeader.Read(junk)).Message);
    }

    private string SafetensorsCopy()
    {
        string path = Path.Combine(_temp, $"copy-{Guid.NewGuid():N}.safetensors");
        var sd = CheckpointReader.Read(Path.Combine(GptTestModels.Dir(Tag), "state_dict.pt"), CheckpointEntry.Ema);
        Safetensors.SaveStateDict(path, sd);
        foreach (var t in sd.Values) t.Dispose();
        return path;
    }

    private CheckpointMismatchException LoadEdited(Action<Dictionary<string, Tensor>> edit)
    {
        var sd = CheckpointReader.Read(Path.Combine(GptTestModels.Dir(Tag), "state_dict.pt"), CheckpointEntry.Ema);
        edit(sd);
        string path = Path.Combine(_temp, $"edited-{Guid.NewGuid():N}.safetensors");
        Safetensors.SaveStateDict(path, sd);
        foreach (var t in sd.Values) t.Dispose();
        return Assert.Throws<CheckpointMismatchException>(() => GptTransformer.Load(path, GptTestModels.Config(Tag)));
    }

    public void Dispose() => Directory.Delete(_temp, recursive: true);
}
