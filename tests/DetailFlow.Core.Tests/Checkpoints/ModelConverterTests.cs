using DetailFlow.Core.Checkpoints;
using DetailFlow.Core.Gpt;
using DetailFlow.Core.Tokenizer;
using TorchSharp;
using static TorchSharp.torch;

namespace DetailFlow.Core.Tests.Checkpoints;

public sealed class ModelConverterTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("df-convert-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void ConvertedGptGivesTheSameLogitsAsTheOfficialCheckpoint()
    {
        string source = Path.Combine(TestFixtures.Root, "gpt_tiny_c4", "checkpoint.pt");
        var converted = ModelConverter.ConvertGpt(source, _dir);
        Assert.Equal(19, converted.Tensors);

        using var official = GptTransformer.Load(source);
        using var fromSafetensors = GptTransformer.Load(converted.WeightsPath);   // finds gpt.json beside it
        Assert.Equal(official.Config with { Format = ModelConverter.GptFormat }, fromSafetensors.Config);

        using var _ = torch.no_grad();
        var codes = torch.tensor(new long[] { 3, 9, 1, 60, 7, 7, 2, 40, 11, 0 }, [1, 10]);
        var classes = torch.tensor(new long[] { 4 });
        Assert.True(official.Forward(codes, classes).equal(fromSafetensors.Forward(codes, classes)).all().item<bool>());
    }

    [Fact]
    public void ConvertedTokenizerDropsTrainingKeysAndDecodesIdentically()
    {
        string source = Path.Combine(TestFixtures.Root, "vq_tiny", "checkpoint.pt");
        var converted = ModelConverter.ConvertTokenizer(source, _dir);
        var keys = CheckpointReader.Read(converted.WeightsPath, CheckpointEntry.Model).Keys.ToList();
        Assert.DoesNotContain(keys, StateDictLoader.IsTrainingOnly);
        Assert.Contains("decoder.to_pixel.model.weight", keys);

        using var official = VqModel.Load(source);
        using var fromSafetensors = VqModel.Load(converted.WeightsPath);
        using var _ = torch.no_grad();
        var codes = torch.arange(32, dtype: int64).reshape(1, 32) % official.Config.CodebookSize;
        Assert.True(official.Decode(codes, 12, 16).equal(fromSafetensors.Decode(codes, 12, 16)).all().item<bool>());
    }

    [Fact]
    public void Fp16ConversionStoresHalfPrecisionTensors()
    {
        string source = Path.Combine(TestFixtures.Root, "gpt_tiny_c8", "state_dict.pt");
        var converted = ModelConverter.ConvertGpt(source, _dir, dtype: ScalarType.Float16);
        var sd = CheckpointReader.Read(converted.WeightsPath, CheckpointEntry.Model);
        Assert.All(sd.Values, t => Assert.Equal(ScalarType.Float16, t.dtype));
    }
}
