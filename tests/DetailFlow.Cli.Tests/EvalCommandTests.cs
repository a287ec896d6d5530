using DetailFlow.Cli.Bench;
using System.CommandLine;
using System.Text.Json;
using DetailFlow.Cli;
using DetailFlow.Cli.Commands;
using DetailFlow.Core.Checkpoints;
using DetailFlow.Core.Gpt;
using DetailFlow.Core.Imaging;
using DetailFlow.Core.Tokenizer;
using DetailFlow.Training.Evaluation;
using DetailFlow.Training.Evaluation.Inception;
using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.PyBridge;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace DetailFlow.Cli.Tests;

/// <summary>A small seeded conv net standing in for the FID Inception: 32-d features, 10 logits, any image size.</summary>
internal sealed class StandInFeatures : IFeatureExtractor
{
    private readonly Sequential _features;
    private readonly Linear _head;

    public StandInFeatures()
    {
        manual_seed(5);
        _features = Sequential(Conv2d(3, 8, 3, stride: 2), ReLU(), AdaptiveAvgPool2d(2), Flatten());
        _head = Linear(32, 10);
        _features.eval();
    }

    public string Name => "stand-in conv net";
    public int FeatureDim => 32;
    public int Calls { get; private set; }

    public (Tensor Features, Tensor Logits) Extract(Tensor images)
    {
        Calls++;
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var f = _features.forward(images.to(float32) / 127.5 - 1);
        return (f.to(float64).MoveToOuterDisposeScope(), _head.forward(f).to(float64).MoveToOuterDisposeScope());
    }

    public void Dispose()
    {
        _features.Dispose();
        _head.Dispose();
    }
}

public class EvalCommandTests
{
    /// <summary>The <c>tiny</c> preset of <c>detailflow bench model</c> (GPT + whole tokenizer) in <paramref name="dir"/>.</summary>
    private static string TinyModels(string dir)
    {
        RandomModelPreset.Find("tiny")!.Write(dir, seed: 7, decoderOnly: false);
        return dir;
    }

    /// <summary>Six smooth 40×36 RGB images in two class folders (centre-cropped to 32² by the evaluation).</summary>
    private static string ImageFolder(string dir)
    {
        var rng = new Random(3);
        for (int i = 0; i < 6; i++)
        {
            string cls = Path.Combine(dir, i < 3 ? "cat" : "dog");
            Directory.CreateDirectory(cls);
            int w = 40, h = 36;
            var px = new byte[3 * w * h];
            double a = rng.NextDouble(), b = rng.NextDouble();
            for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
            for (int c = 0; c < 3; c++)
                px[3 * (y * w + x) + c] = (byte)(127.5 + 120 * Math.Sin(a * x / 3.0 + b * y / 4.0 + c));
            File.WriteAllBytes(Path.Combine(cls, $"{i}.png"), PngEncoder.Compact.Encode(new RgbImage(w, h, px)));
        }
        return dir;
    }

    private static async Task<int> Invoke(Command command, string[] args, CancellationToken token = default)
    {
        var root = new RootCommand { CliRoot.Threads, command };
        return await root.Parse(args).InvokeAsync(new InvocationConfiguration { EnableDefaultExceptionHandler = false }, token);
    }

    private static JsonElement Json(string path) => JsonDocument.Parse(File.ReadAllText(path)).RootElement;

    [Fact]
    public async Task EvalTokenizer_ThenEvalC2i_RunEndToEnd_AndResume()
    {
        string dir = Directory.CreateTempSubdirectory("dfeval").FullName;
        try
        {
            string models = TinyModels(Directory.CreateDirectory(Path.Combine(dir, "models")).FullName);
            string images = ImageFolder(Path.Combine(dir, "val"));
            string outDir = Path.Combine(dir, "rfid");
            var used = new List<(string Path, InceptionResize Resize)>();
            FeatureExtractorFactory factory = (path, resize) => { used.Add((path, resize)); return new StandInFeatures(); };
            string[] tokArgs = ["eval-tokenizer", "--tokenizer", Path.Combine(models, "tokenizer.safetensors"), "--data", images, "--out", outDir,
                "--batch-size", "4", "--threads", "1", "--resize", "pytorch-fid", "--json", Path.Combine(dir, "rfid.json")];

            var ui = new RecordingUi();
            Assert.Equal(ExitCodes.Success, await Invoke(new EvalTokenizerCommand(ui, factory), tokArgs));
            Assert.Equal(InceptionResize.PytorchFid, used.Single().Resize);
            var first = Json(Path.Combine(dir, "rfid.json"));
            Assert.Equal(6, first.GetProperty("images").GetInt32());
            Assert.Equal(6, first.GetProperty("reconstructed").GetInt32());
            double rfid = first.GetProperty("rfid").GetDouble();
            Assert.True(rfid > 0 && double.IsFinite(rfid), $"rFID {rfid}");
            Assert.InRange(first.GetProperty("ssim").GetDouble(), -1, 1);
            Assert.True(double.IsFinite(first.GetProperty("psnr_db").GetDouble()));
            Assert.Equal(6, Directory.GetFiles(Path.Combine(outDir, "reconstructions"), "*.png").Length);
            Assert.True(File.Exists(Path.Combine(outDir, "real_stats.npz")));
            Assert.Equal([4L, 6L], ui.Reports.Select(r => r.Done));   // progress after each batch of 4
            Assert.All(ui.Reports, r => Assert.Contains("SSIM", r.Status));

            // Resume: nothing to redo; one deleted reconstruction is redone and gives the same numbers.
            File.Delete(Path.Combine(outDir, "reconstructions", "000002.png"));
            Assert.Equal(ExitCodes.Success, await Invoke(new EvalTokenizerCommand(new RecordingUi(), factory), tokArgs));
            var second = Json(Path.Combine(dir, "rfid.json"));
            Assert.Equal(1, second.GetProperty("reconstructed").GetInt32());
            Assert.Equal(rfid, second.GetProperty("rfid").GetDouble(), 1e-9);

            // gFID against the real statistics eval-tokenizer wrote, two seeds, 1 image per class.
            string samples = Path.Combine(dir, "gfid");
            string[] c2iArgs = ["eval-c2i", "--gpt", Path.Combine(models, "gpt.safetensors"), "--tokenizer", Path.Combine(models, "tokenizer.safetensors"),
                "--reference", Path.Combine(outDir, "real_stats.npz"), "--out", samples, "--per-class", "1", "--seeds", "0,1", "--batch-size", "4",
                "--threads", "1", "--json", Path.Combine(dir, "gfid.json")];
            var c2iUi = new RecordingUi();
            Assert.Equal(ExitCodes.Success, await Invoke(new EvalC2iCommand(c2iUi, factory), c2iArgs));
            var g = Json(Path.Combine(dir, "gfid.json"));
            Assert.Equal(1.5, g.GetProperty("cfg").GetDouble());     // N = 32 is no release: the script's default
            Assert.Equal(64, g.GetProperty("top_k").GetInt32());     // the whole vocabulary
            Assert.Equal(1.0, g.GetProperty("top_p").GetDouble());
            var seeds = g.GetProperty("seeds").EnumerateArray().ToArray();
            Assert.Equal(2, seeds.Length);
            Assert.All(seeds, s => Assert.Equal(10, s.GetProperty("generated").GetInt32()));
            Assert.All(seeds, s => Assert.True(s.GetProperty("gfid").GetDouble() > 0));
            Assert.All(seeds, s => Assert.InRange(s.GetProperty("inception_score").GetDouble(), 1.0, 10.0));
            Assert.Equal(seeds.Average(s => s.GetProperty("gfid").GetDouble()), g.GetProperty("gfid").GetDouble(), 1e-12);
            Assert.Equal(10, Directory.GetFiles(Path.Combine(samples, "seed-0"), "*.png").Length);
            Assert.True(File.Exists(Path.Combine(samples, "seed-1_stats.npz")));
            Assert.Contains(c2iUi.Lines, l => l.StartsWith("gFID ", StringComparison.Ordinal));
            var seed0 = File.ReadAllBytes(Path.Combine(samples, "seed-0", "000003.png"));
            Assert.NotEqual(seed0, File.ReadAllBytes(Path.Combine(samples, "seed-1", "000003.png")));

            // Resume: a deleted sample is regenerated identically (per-image seeds); the rest is reused.
            File.Delete(Path.Combine(samples, "seed-0", "000003.png"));
            Assert.Equal(ExitCodes.Success, await Invoke(new EvalC2iCommand(new RecordingUi(), factory), c2iArgs));
            var again = Json(Path.Combine(dir, "gfid.json"));
            Assert.Equal([1, 0], again.GetProperty("seeds").EnumerateArray().Select(s => s.GetProperty("generated").GetInt32()));
            Assert.Equal(seed0, File.ReadAllBytes(Path.Combine(samples, "seed-0", "000003.png")));
            Assert.Equal(g.GetProperty("gfid").GetDouble(), again.GetProperty("gfid").GetDouble(), 1e-9);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public async Task EvalC2i_CtrlC_KeepsTheWrittenImages_AndTheRerunGeneratesOnlyTheRest()
    {
        string dir = Directory.CreateTempSubdirectory("dfeval").FullName;
        try
        {
            string models = TinyModels(Directory.CreateDirectory(Path.Combine(dir, "models")).FullName);
            using (var features = new StandInFeatures())
            {
                var f = torch.rand(new long[] { 8, features.FeatureDim }, dtype: float64);
                using var reference = FeatureStatistics.Of(f);
                reference.Save(Path.Combine(dir, "ref.npz"));
            }
            FeatureExtractorFactory factory = (_, _) => new StandInFeatures();
            string samples = Path.Combine(dir, "gfid");
            string[] args = ["eval-c2i", "--gpt", Path.Combine(models, "gpt.safetensors"), "--tokenizer", Path.Combine(models, "tokenizer.safetensors"),
                "--reference", Path.Combine(dir, "ref.npz"), "--out", samples, "--per-class", "1", "--seeds", "0", "--batch-size", "2",
                "--threads", "1", "--json", Path.Combine(dir, "gfid.json")];
            using var cts = new CancellationTokenSource();
            var ui = new RecordingUi { CancelAfter = cts, CancelAt = 4 };
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => Invoke(new EvalC2iCommand(ui, factory), args, cts.Token));
            Assert.Equal(4, Directory.GetFiles(Path.Combine(samples, "seed-0"), "*.png").Length);
            Assert.Empty(Directory.GetFiles(Path.Combine(samples, "seed-0"), "*.tmp"));

            Assert.Equal(ExitCodes.Success, await Invoke(new EvalC2iCommand(new RecordingUi(), factory), args));
            var seed = Json(Path.Combine(dir, "gfid.json")).GetProperty("seeds")[0];
            Assert.Equal(6, seed.GetProperty("generated").GetInt32());
            Assert.Equal(10, Directory.GetFiles(Path.Combine(samples, "seed-0"), "*.png").Length);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Theory]
    [InlineData("eval-tokenizer", "--tokenizer", "t.pt", "--data", "val", "--out", "out")]
    [InlineData("eval-c2i", "--gpt", "g.pt", "--tokenizer", "t.pt", "--reference", "ref.npz", "--out", "out")]
    public async Task MissingInceptionWeights_FailNamingTheFileToProvide(params string[] args)
    {
        var ui = new RecordingUi();
        string missing = Path.Combine(Path.GetTempPath(), "no-such-dir", InceptionFeatureExtractor.WeightsFileName);
        int code = await CliRoot.Create(ui).Parse([.. args, "--inception", missing]).InvokeAsync(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
        Assert.Equal(ExitCodes.InvalidInput, code);
        var error = Assert.Single(ui.Lines, l => l.StartsWith("error: ", StringComparison.Ordinal));
        Assert.Contains(missing, error);
        Assert.Contains(InceptionFeatureExtractor.WeightsUrl, error);
    }

    [Fact]
    public async Task ConvertInception_MissingPth_NamesTheFile()
    {
        var ui = new RecordingUi();
        int code = await CliRoot.Create(ui).Parse(["convert-inception", "--pth", "/nonexistent/x.pth", "--out", "/tmp/x.safetensors"]).InvokeAsync();
        Assert.Equal(ExitCodes.InvalidInput, code);
        Assert.Contains(ui.Lines, l => l.Contains("/nonexistent/x.pth") && l.Contains(InceptionFeatureExtractor.WeightsFileName));
    }

    [Theory]
    [InlineData("eval-tokenizer")]
    [InlineData("eval-c2i")]
    [InlineData("convert-inception")]
    public void Help_DescribesEveryOption(string command)
    {
        var cmd = CliRoot.Create(new RecordingUi()).Subcommands.Single(c => c.Name == command);
        Assert.All(cmd.Options.Where(o => o.Name is not ("--help" or "-h" or "-?")),
            o => Assert.False(string.IsNullOrWhiteSpace(o.Description), $"{command} {o.Name} has no description"));
    }
}
