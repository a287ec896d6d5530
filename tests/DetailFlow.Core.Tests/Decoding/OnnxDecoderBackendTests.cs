using DetailFlow.Core.Decoding;
using DetailFlow.Core.Onnx;
using DetailFlow.Core.Tokenizer;
using TorchSharp;
using static TorchSharp.torch;

namespace DetailFlow.Core.Tests.Decoding;

/// <summary>
/// The ONNX Runtime decoder against the TorchSharp decoder (fp32, 1e-4): every scheduled prefix of the default model
/// (models/default); input checks; export to a file and back.
/// </summary>
public sealed class OnnxDecoderBackendTests : IDisposable
{
    private const double PixelAtol = 1e-4;
    private readonly VqModel _model = VqModel.Load(DefaultModelPath(), decoderOnly: true);

    public void Dispose() => _model.Dispose();

    public static string DefaultModelPath()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, "models", "default", "tokenizer.safetensors");
            if (File.Exists(candidate)) return candidate;
        }
        throw new FileNotFoundException("models/default/tokenizer.safetensors not found above " + AppContext.BaseDirectory);
    }

    [Fact]
    public void EveryScheduledPrefixOfTheDefaultModelMatchesTorch()
    {
        using var torchBackend = new TorchDecoderBackend(_model);
        using var onnx = OnnxDecoderBackend.Create(_model);
        var results = DecoderBackendParity.Compare(_model, torchBackend, onnx);
        Assert.All(results, r => Assert.True(r.MaxDiff <= PixelAtol, $"d={r.Resolution} prefixes [{string.Join(",", r.Prefixes)}]: max |Δ| {r.MaxDiff}"));
    }

    [Fact]
    public void BatchOfEightEqualsEightSingleDecodes()
    {
        using var onnx = OnnxDecoderBackend.Create(_model);
        using var codes = torch.randint(0, _model.Config.CodebookSize, [8, _model.NumLatentTokens], dtype: int64, generator: new torch.Generator(3));
        using var batch = onnx.Decode(codes, 12, 32);
        for (int i = 0; i < 8; i++)
        {
            using var scope = NewDisposeScope();
            var single = onnx.Decode(codes[i..(i + 1)], 12, 32);
            Assert.True((single[0] - batch[i]).abs().max().item<float>() <= 1e-5);
        }
    }

    /// <summary>The service decodes on two threads at once; calls at several sizes at once (each grid's position table built on first use) equal those made one by one.</summary>
    [Fact]
    public void ConcurrentCallsAtSeveralSizesEqualCallsOneByOne()
    {
        int[] sizes = [16, 32, 48, 64];
        using var codes = torch.randint(0, _model.Config.CodebookSize, [2, _model.NumLatentTokens], dtype: int64, generator: new torch.Generator(5));
        var results = new Tensor[16];
        using (var onnx = OnnxDecoderBackend.Create(_model))
            Parallel.For(0, results.Length, new ParallelOptions { MaxDegreeOfParallelism = 4 }, i => results[i] = onnx.Decode(codes, 12, sizes[i % sizes.Length]));
        using var alone = OnnxDecoderBackend.Create(_model);
        for (int i = 0; i < results.Length; i++)
        {
            using var expected = alone.Decode(codes, 12, sizes[i % sizes.Length]);
            Assert.True((results[i] - expected).abs().max().item<float>() <= 1e-6, $"call {i} at {sizes[i % sizes.Length]} px");
            results[i].Dispose();
        }
    }

    [Fact]
    public void ExportedFileLoadsAndDecodesLikeTheInMemoryGraph()
    {
        string path = Path.Combine(Path.GetTempPath(), $"decoder-{Guid.NewGuid():N}.onnx");
        try
        {
            DecoderOnnxExport.Export(_model, path);
            using var fromFile = OnnxDecoderBackend.Load(_model, path);
            using var inMemory = OnnxDecoderBackend.Create(_model);
            using var codes = torch.randint(0, _model.Config.CodebookSize, [2, 16], dtype: int64, generator: new torch.Generator(5));
            using var a = fromFile.Decode(codes, [16, 9], 32);
            using var b = inMemory.Decode(codes, [16, 9], 32);
            Assert.True(a.equal(b).all().item<bool>());
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void RejectsBadInputWithTheArgumentAtFault()
    {
        using var onnx = OnnxDecoderBackend.Create(_model);
        using var codes = torch.zeros(1, 8, dtype: int64);
        Assert.Equal("prefixLengths", Assert.Throws<ArgumentOutOfRangeException>(() => onnx.Decode(codes, 9, 32)).ParamName);
        Assert.Equal("imageSize", Assert.Throws<ArgumentOutOfRangeException>(() => onnx.Decode(codes, 8, 12)).ParamName);
        using var bad = torch.full(1, 8, _model.Config.CodebookSize, dtype: int64);
        Assert.Equal("codes", Assert.Throws<ArgumentOutOfRangeException>(() => onnx.Decode(bad, 8, 32)).ParamName);
        Assert.Throws<ArgumentException>(() => onnx.Decode(codes, [8, 8], 32));
    }

    [Fact]
    public void RefusesAGraphExportedFromADifferentTokenizer()
    {
        using var other = new VqModel(TokenizerPresets.DetailFlow16, decoderOnly: true);
        var bytes = DecoderOnnxExport.Export(_model);
        var e = Assert.Throws<InvalidDataException>(() => new OnnxDecoderBackend(other, bytes));
        Assert.Contains("hidden_size", e.Message);
    }
}
