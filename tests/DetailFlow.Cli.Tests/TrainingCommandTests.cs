using System.CommandLine;
using System.Runtime.CompilerServices;
using DetailFlow.Cli;
using DetailFlow.Cli.Console;
using TorchSharp;

[assembly: CollectionBehavior(DisableTestParallelization = true)]

namespace DetailFlow.Cli.Tests;

internal static class TorchThreads
{
    [ModuleInitializer]
    internal static void SingleThread() => torch.set_num_threads(1);
}

/// <summary>Records what commands show; <see cref="Progress{T}"/> runs the work and can cancel after a number of units.</summary>
internal sealed class RecordingUi : IConsoleUi
{
    public List<string> Lines { get; } = [];
    public List<(long Done, string Status)> Reports { get; } = [];
    public CancellationTokenSource? CancelAfter { get; init; }
    public long CancelAt { get; init; } = long.MaxValue;

    public void Line(string text) => Lines.Add(text);
    public void Info(string text) => Lines.Add("info: " + text);
    public void Success(string text) => Lines.Add("ok: " + text);
    public void Error(string text) => Lines.Add("error: " + text);
    public void Table(string[] headers, IEnumerable<string[]> rows) => Lines.Add(string.Join(" ", headers));

    public T Progress<T>(string title, long total, long plainEvery, Func<Action<long, string>, T> work) => work((done, status) =>
    {
        Reports.Add((done, status));
        if (done >= CancelAt) CancelAfter?.Cancel();
    });
}

public class TrainingCommandTests
{
    private const string FashionImages = "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz";
    private const string FashionLabels = "/usr/share/datasets/fashion-mnist/train-labels-idx1-ubyte.gz";

    private static string[] Fashion()
    {
        if (!File.Exists(FashionImages))
            throw new FileNotFoundException($"Fashion-MNIST is missing ({FashionImages}); install it with: apt-get update && apt-get install -y dataset-fashion-mnist", FashionImages);
        return ["--idx-images", FashionImages, "--idx-labels", FashionLabels, "--idx-limit", "64"];
    }

    private static async Task<int> Invoke(RecordingUi ui, string[] args, CancellationToken token = default) =>
        await CliRoot.Create(ui).Parse(ConfigFileArguments.Expand(args)).InvokeAsync(new InvocationConfiguration { EnableDefaultExceptionHandler = false }, token);

    [Theory]
    [InlineData("train-tokenizer")]
    [InlineData("extract-codes")]
    [InlineData("train-ar")]
    [InlineData("sample")]
    public async Task Help_DescribesEveryOption(string command)
    {
        var ui = new RecordingUi();
        var cmd = CliRoot.Create(ui).Subcommands.Single(c => c.Name == command);
        Assert.All(cmd.Options.Where(o => o.Name != "--help" && o.Name != "-h" && o.Name != "-?"),
            o => Assert.False(string.IsNullOrWhiteSpace(o.Description), $"{command} {o.Name} has no description"));
        Assert.Contains(cmd.Options, o => o.Name == "--config");
        var output = new StringWriter();
        int code = await CliRoot.Create(ui).Parse([command, "--help"]).InvokeAsync(new InvocationConfiguration { Output = output });
        Assert.Equal(0, code);
        Assert.Contains("--config", output.ToString());
    }

    [Fact]
    public void ConfigFile_FillsOptionsTheCommandLineDoesNotGive()
    {
        string dir = Directory.CreateTempSubdirectory("dfcli").FullName;
        try
        {
            string yaml = Path.Combine(dir, "run.yaml");
            File.WriteAllText(yaml, "steps: 10\nbatch-size: 4\nout: runs/a\nema: True\n");
            var args = ConfigFileArguments.Expand(["train-ar", "--config", yaml, "--steps", "20"]);
            Assert.Equal(["train-ar", "--config", yaml, "--steps", "20", "--batch-size", "4", "--out", Path.Combine(dir, "runs", "a"), "--ema", "true"], args);
            string json = Path.Combine(dir, "run.json");
            File.WriteAllText(json, """{ "lr": 0.001, "resume": false }""");
            Assert.Equal(["x", "--config=" + json, "--lr", "0.001", "--resume", "false"], ConfigFileArguments.Expand(["x", "--config=" + json]));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public async Task TrainTokenizer_CtrlC_WritesACheckpoint_AndResumeContinues()
    {
        string run = Directory.CreateTempSubdirectory("dfcli").FullName;
        try
        {
            using var cts = new CancellationTokenSource();
            var ui = new RecordingUi { CancelAfter = cts, CancelAt = 2 };
            string[] common = ["train-tokenizer", .. Fashion(), "--out", run, "--batch-size", "4", "--checkpoint-every", "100", "--codebook-from-data"];
            int code = await Invoke(ui, [.. common, "--steps", "6"], cts.Token);
            Assert.Equal(ExitCodes.Cancelled, code);
            Assert.True(File.Exists(Path.Combine(run, "checkpoints", "0000002.pt")), string.Join("\n", ui.Lines));
            Assert.True(File.Exists(Path.Combine(run, "config.json")));
            Assert.Contains(ui.Reports, r => r.Status.Contains("steps/s") && r.Status.Contains("loss"));

            var resumed = new RecordingUi();
            code = await Invoke(resumed, [.. common, "--steps", "4", "--resume"]);
            Assert.Equal(ExitCodes.Success, code);
            Assert.Equal(new long[] { 3, 4 }, resumed.Reports.Select(r => r.Done));
            Assert.True(File.Exists(Path.Combine(run, "checkpoints", "0000004.pt")));

            // The pipeline continues: codes, a GPT and samples from these checkpoints.
            string codes = Path.Combine(run, "codes");
            Assert.Equal(0, await Invoke(new RecordingUi(), ["extract-codes", .. Fashion(), "--tokenizer", Path.Combine(run, "checkpoints", "0000004.pt"), "--out", codes, "--dataset", "fashion"]));
            string gpt = Path.Combine(run, "gpt");
            Assert.Equal(0, await Invoke(new RecordingUi(), ["train-ar", "--codes", codes, "--dataset", "fashion", "--out", gpt, "--steps", "2", "--batch-size", "4", "--ema"]));
            string samples = Path.Combine(run, "samples");
            Assert.Equal(0, await Invoke(new RecordingUi(), ["sample", "--gpt", Path.Combine(gpt, "checkpoints", "0000002.pt"), "--tokenizer", Path.Combine(run, "checkpoints", "0000004.pt"), "--out", samples, "--classes", "0,3", "--per-class", "2"]));
            Assert.True(new FileInfo(Path.Combine(samples, "samples.png")).Length > 0);
            Assert.True(new FileInfo(Path.Combine(samples, "previews.png")).Length > 0);
        }
        finally
        {
            Directory.Delete(run, recursive: true);
        }
    }

    [Fact]
    public async Task TrainTokenizer_WithoutData_FailsNamingTheOptions()
    {
        var ui = new RecordingUi();
        var e = await Assert.ThrowsAsync<ArgumentException>(() => Invoke(ui, ["train-tokenizer", "--out", Path.GetTempPath(), "--steps", "1"]));
        Assert.Contains("--data", e.Message);
        Assert.Contains("--idx-images", e.Message);
    }
}
