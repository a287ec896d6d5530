using System.CommandLine;
using DetailFlow.Cli;
using DetailFlow.Core.Gpt;
using DetailFlow.Core.Tokenizer;
using TorchSharp;

namespace DetailFlow.Cli.Tests;

public sealed class BenchModelCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("bench-model-").FullName;

    private static async Task<int> Invoke(RecordingUi ui, params string[] args) =>
        await CliRoot.Create(ui).Parse(args).InvokeAsync(new InvocationConfiguration { EnableDefaultExceptionHandler = false });

    [Fact]
    public async Task TinyPreset_WritesAGptAndADecoderOnlyTokenizerThatLoadAndBelongTogether()
    {
        var ui = new RecordingUi();
        Assert.Equal(ExitCodes.Success, await Invoke(ui, "bench", "model", "--preset", "tiny", "--out", _dir, "--seed", "3"));
        using var gpt = GptTransformer.Load(Path.Combine(_dir, "gpt.safetensors"));
        using var vq = VqModel.Load(Path.Combine(_dir, "tokenizer.safetensors"), decoderOnly: true);
        Assert.Equal((32, 4, 4, 64L), (gpt.Config.BlockSize, gpt.Config.GroupSize, gpt.Config.EffectiveCausalNum, (long)gpt.Config.VocabSize));
        Assert.Equal((32, 4, 4, 64L), (vq.Config.NumLatentTokens, vq.Config.GroupSize, vq.Config.EffectiveCausalNum, (long)vq.Config.CodebookSize));
        Assert.Equal(31_328, gpt.ParameterCount);
        Assert.Contains(ui.Lines, l => l.StartsWith("serve with: ModelOptions__GptPath=", StringComparison.Ordinal));

        // Seeded: the same seed writes the same weights, another seed others.
        string again = Path.Combine(_dir, "again"), other = Path.Combine(_dir, "other");
        Assert.Equal(ExitCodes.Success, await Invoke(new RecordingUi(), "bench", "model", "--preset", "tiny", "--out", again, "--seed", "3"));
        Assert.Equal(ExitCodes.Success, await Invoke(new RecordingUi(), "bench", "model", "--preset", "tiny", "--out", other, "--seed", "4"));
        using var same = GptTransformer.Load(Path.Combine(again, "gpt.safetensors"));
        using var different = GptTransformer.Load(Path.Combine(other, "gpt.safetensors"));
        Assert.True(torch.equal(gpt.output.weight!, same.output.weight!).all().item<bool>());
        Assert.False(torch.equal(gpt.output.weight!, different.output.weight!).all().item<bool>());
    }

    [Fact]
    public void ReleasedSizedPresets_HaveTheDetailFlow16Layout()
    {
        var gptL = Assert.IsType<Bench.RandomModelPreset>(Bench.RandomModelPreset.Find("GPT-L"));
        // The GPT-L config whose 326,140,928 parameters GptLoadingTests checks (spec §3.2).
        Assert.Equal(new GptConfig { Dim = 1024, NLayer = 24, NHead = 16, VocabSize = 8192, NumClasses = 1000, BlockSize = 128, GroupSize = 8 }, gptL.Gpt);
        Assert.Equal(TokenizerPresets.DetailFlow16, gptL.Tokenizer);
        var mid = Assert.IsType<Bench.RandomModelPreset>(Bench.RandomModelPreset.Find("mid"));
        Assert.Equal(gptL.Gpt with { Dim = 512, NLayer = 8, NHead = 8 }, mid.Gpt);
        Assert.Equal(TokenizerPresets.DetailFlow16, mid.Tokenizer);
        using var model = new GptTransformer(mid.Gpt);
        Assert.Equal(36_176_384L, model.ParameterCount);
    }

    [Fact]
    public async Task UnknownPreset_IsRefused()
    {
        var ui = new RecordingUi();
        Assert.Equal(ExitCodes.InvalidInput, await Invoke(ui, "bench", "model", "--preset", "gpt-xxl", "--out", _dir));
        Assert.Contains(ui.Lines, l => l.StartsWith("error: --preset 'gpt-xxl'", StringComparison.Ordinal));
        Assert.Empty(Directory.EnumerateFiles(_dir));
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}
