using DetailFlow.Core.Tokenizer;
using DetailFlow.Core.Generation;
using System.CommandLine;
using System.Text.Json;
using DetailFlow.Cli;

namespace DetailFlow.Cli.Tests;

/// <summary><c>export-onnx</c>, <c>bench decode</c> and <c>--decoder-backend onnx</c> on the default model.</summary>
public class OnnxCommandTests
{
    private static string DefaultModel(string file)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, "models", "default", file);
            if (File.Exists(candidate)) return candidate;
        }
        throw new FileNotFoundException($"models/default/{file} not found above {AppContext.BaseDirectory}");
    }

    private static async Task<int> Invoke(RecordingUi ui, params string[] args) =>
        await CliRoot.Create(ui).Parse(args).InvokeAsync(new InvocationConfiguration { EnableDefaultExceptionHandler = false });

    [Fact]
    public async Task ExportOnnx_WritesTheDecoderAndVerifiesEveryScheduledPrefix()
    {
        string path = Path.Combine(Path.GetTempPath(), $"decoder-{Guid.NewGuid():N}.onnx");
        try
        {
            var ui = new RecordingUi();
            int code = await Invoke(ui, "export-onnx", "--tokenizer", DefaultModel("tokenizer.safetensors"), "--out", path);
            Assert.Equal(ExitCodes.Success, code);
            Assert.True(new FileInfo(path).Length > 100_000);
            int prefixes = ResolutionSchedule.For(TokenizerConfig.Load(DefaultModel("tokenizer.json"))).ValidPrefixes.Count;
            Assert.Contains(ui.Lines, l => l.StartsWith($"ok: verified {prefixes} scheduled prefixes", StringComparison.Ordinal));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public async Task BenchDecode_TimesBothBackendsAtEveryResolutionAndBatch()
    {
        var ui = new RecordingUi();
        int code = await Invoke(ui, "bench", "decode", "--tokenizer", DefaultModel("tokenizer.safetensors"),
            "--backends", "torch,onnx", "--batches", "1,2", "--runs", "1", "--warmup", "0", "--threads", "1", "--json");
        Assert.Equal(ExitCodes.Success, code);
        var rows = JsonDocument.Parse(ui.Lines.Single(l => l.StartsWith('['))).RootElement.EnumerateArray().ToList();
        var resolutions = ResolutionSchedule.For(TokenizerConfig.Load(DefaultModel("tokenizer.json"))).Resolutions;   // 8, 16, 24, 32
        Assert.Equal(2 * resolutions.Count, rows.Count); // batches 1 and 2 × the default model's scheduled resolutions
        Assert.Equal(resolutions, rows.Where(r => r.GetProperty("batch").GetInt32() == 1).Select(r => r.GetProperty("resolution").GetInt32()));
        Assert.All(rows, r => Assert.True(r.GetProperty("torch_ms").GetDouble() > 0 && r.GetProperty("onnx_ms").GetDouble() > 0));
    }

    [Fact]
    public async Task BenchDecode_RejectsAnUnknownBackend()
    {
        var e = await Assert.ThrowsAsync<ArgumentException>(() => Invoke(new RecordingUi(), "bench", "decode", "--backends", "torch,tensorrt"));
        Assert.Contains("--backends", e.Message);
    }

    [Fact]
    public async Task BenchDecode_TimesOneTorchBackendPerAttention_InTheGivenPrecision()
    {
        var ui = new RecordingUi();
        int code = await Invoke(ui, "bench", "decode", "--tokenizer", DefaultModel("tokenizer.safetensors"), "--backends", "torch",
            "--attention", "sdpa,headwise", "--dtype", "bf16", "--weights", "plain", "--batches", "1", "--runs", "1", "--warmup", "0", "--threads", "1", "--json");
        Assert.Equal(ExitCodes.Success, code);
        var rows = JsonDocument.Parse(ui.Lines.Single(l => l.StartsWith('['))).RootElement.EnumerateArray().ToList();
        Assert.NotEmpty(rows);
        Assert.All(rows, r => Assert.True(r.GetProperty("torch-sdpa_ms").GetDouble() > 0 && r.GetProperty("torch-headwise_ms").GetDouble() > 0));
        Assert.Single(ui.Lines, l => l.StartsWith("info: torch backend: bf16;", StringComparison.Ordinal) && l.Contains("plain weights"));   // one choice for both
        Assert.Contains("info: torch backend (sdpa): attention sdpa (configured)", ui.Lines);
        Assert.Contains("info: torch backend (headwise): attention headwise (configured)", ui.Lines);
    }

    [Theory]
    [InlineData("--attention", "flash")]
    [InlineData("--dtype", "int8")]
    [InlineData("--weights", "tiled")]
    public async Task BenchDecode_RejectsAnUnknownChoice(string option, string value)
    {
        var e = await Assert.ThrowsAsync<ArgumentException>(() => Invoke(new RecordingUi(), "bench", "decode", "--backends", "torch", option, value));
        Assert.Contains(option, e.Message);
    }

    [Fact]
    public async Task ContactSheet_DecodesThroughOnnxRuntime()
    {
        string path = Path.Combine(Path.GetTempPath(), $"sheet-{Guid.NewGuid():N}.png");
        try
        {
            var ui = new RecordingUi();
            int code = await Invoke(ui, "contact-sheet", "--gpt", DefaultModel("gpt.safetensors"), "--tokenizer", DefaultModel("tokenizer.safetensors"),
                "--out", path, "--cell", "16", "--decoder-backend", "onnx", "--onnx-threads", "1");
            Assert.Equal(ExitCodes.Success, code);
            Assert.True(File.Exists(path));
        }
        finally
        {
            File.Delete(path);
        }
    }
}
