using System.CommandLine;
using System.Text.Json;
using DetailFlow.Cli.Bench;
using DetailFlow.Cli.Commands;

namespace DetailFlow.Cli.Tests;

public sealed class BenchRooflineTests
{
    private static async Task<int> Invoke(RecordingUi ui, params string[] args) =>
        await CliRoot.Create(ui).Parse(args).InvokeAsync(new InvocationConfiguration { EnableDefaultExceptionHandler = false });

    /// <summary>The issue's derivation for GPT-L + the DetailFlow-16 decoder on the Zen 5 machine, from its ceilings.</summary>
    private static RooflineMeasurement IssueMachine() => new()
    {
        Requests = 16,
        Gpt = [new GemmCeiling("fp32", 67, 116), new GemmCeiling("bf16", 229, 600)],
        Decoder = [new GemmCeiling("fp32", 116, 116), new GemmCeiling("bf16", 600, 600)],
        StreamingGbPerSecond = new Dictionary<string, double> { ["fp32"] = 10, ["bf16"] = 20 },
        CopyGbPerSecond = 30, AutoGpt = "bf16", AutoDecoder = "bf16",
    };

    [Fact]
    public void Floor_OfGptL_FollowsTheIssuesDerivation()
    {
        var preset = RandomModelPreset.Find("gpt-l")!;
        var f = RooflineFloor.For(IssueMachine(), preset.Gpt, preset.Tokenizer);
        Assert.Equal(("bf16", "bf16"), (f.GptDType, f.DecoderDType));
        Assert.Equal(23, f.Steps);
        Assert.InRange(f.GptGflopPerImage, 160, 167);      // "about 163 GFLOP (2 CFG rows × ~129 fed positions)"
        Assert.InRange(f.DecodeGflopPerImage, 64, 68);     // "86 M parameters × 384 tokens"
        Assert.InRange(f.GptWeightGb, 0.6, 0.66);          // bf16 linear weights (the issue's 0.65 GB counts the embeddings too)
        Assert.Equal(f.GptWeightGb * 23 / 20, f.StreamSeconds, 9);
        // One request: weight streaming vs GEMM at M = 16, the larger, + decode at 600 GFLOP/s.
        Assert.Equal(Math.Max(f.StreamSeconds, f.GptGflopPerImage / 229) + f.DecodeGflopPerImage / 600, f.SingleSeconds, 9);
        Assert.InRange(f.SingleSeconds, 0.8, 0.95);        // "about 0.9 s for one image"
        Assert.Equal(f.GptGflopPerImage / 600 + f.DecodeGflopPerImage / 600, f.SaturatedSecondsPerImage, 9);
        Assert.InRange(1 / f.SaturatedSecondsPerImage, 2.5, 2.7);   // "about 2.6 images/s at saturation"
        Assert.Equal(f.GptSecondsPerImage(16), f.SecondsPerImage(16, includeDecode: false), 9);
        Assert.Equal(0.5, RooflineFloor.Fraction(1, 2), 9);
    }

    [Fact]
    public void Floor_InFp32_ReadsFourBytesPerWeight_AndUsesFp32Ceilings()
    {
        var preset = RandomModelPreset.Find("gpt-l")!;
        var bf16 = RooflineFloor.For(IssueMachine(), preset.Gpt, preset.Tokenizer, "bf16", "bf16");
        var fp32 = RooflineFloor.For(IssueMachine(), preset.Gpt, preset.Tokenizer, "fp32", "fp32");
        Assert.Equal(2 * bf16.GptWeightGb, fp32.GptWeightGb, 9);
        Assert.Equal(fp32.GptGflopPerImage / 116 + fp32.DecodeGflopPerImage / 116, fp32.SaturatedSecondsPerImage, 9);
        Assert.Throws<ArgumentException>(() => RooflineFloor.For(IssueMachine(), preset.Gpt, preset.Tokenizer, "fp16", "fp16"));
    }

    [Fact]
    public async Task Roofline_OnTheTinyPreset_PrintsAJsonDocumentThatReadsBack()
    {
        var ui = new RecordingUi();
        Assert.Equal(ExitCodes.Success, await Invoke(ui, "bench", "roofline", "--preset", "tiny", "--budget", "0.3", "--json", "--requests", "4"));
        var doc = JsonSerializer.Deserialize<RooflineDocument>(Assert.Single(ui.Lines))!;
        Assert.Equal("tiny", doc.Model);
        Assert.Equal(4, doc.Measurement.Requests);
        Assert.Contains(doc.Measurement.Gpt, c => c.DType == "fp32" && c.SingleGflops > 0 && c.SaturatedGflops > 0);
        Assert.Equal(doc.Measurement.AutoGpt, doc.Floor.GptDType);
        Assert.True(doc.Floor.SingleSeconds > 0 && doc.Floor.SaturatedSecondsPerImage > 0);
    }

    [Theory]
    [InlineData("roofline", "--dtype", "int8")]
    [InlineData("roofline", "--preset", "gpt-xxl")]
    [InlineData("generate", "--dtype", "fp32,int8")]
    [InlineData("generate", "--weights", "blocked")]
    [InlineData("generate", "--attention", "flash")]
    public async Task BadOptions_AreRefused(string command, string option, string value)
    {
        var ui = new RecordingUi();
        Assert.Equal(ExitCodes.InvalidInput, await Invoke(ui, "bench", command, option, value));
        Assert.Contains(ui.Lines, l => l.StartsWith($"error: {option}", StringComparison.Ordinal));
    }
}
