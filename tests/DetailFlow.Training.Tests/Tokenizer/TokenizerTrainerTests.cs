using DetailFlow.Core.Checkpoints;
using DetailFlow.Core.Tokenizer;
using DetailFlow.Training.Checkpointing;
using DetailFlow.Training.Data;
using DetailFlow.Training.Tokenizer;
using TorchSharp;
using static TorchSharp.torch;

namespace DetailFlow.Training.Tests.Tokenizer;

public class TokenizerTrainerTests(Xunit.Abstractions.ITestOutputHelper output)
{
    internal static TokenizerTrainingOptions Options(long steps) => new()
    {
        BatchSize = 16, TotalSteps = steps, Lr = 2e-3, WarmupSteps = 10, Seed = 3, KeepLast = 2, Prefetch = 2, CodebookFromData = true,
    };

    internal static Tensor HeldOut(int count = 32)
    {
        // t10k images never seen in training.
        var source = IdxImageSource.Open(FashionMnist.TestImages, FashionMnist.TestLabels, 32, count);
        var pixels = new float[count * 3 * 32 * 32];
        for (int i = 0; i < count; i++)
            ImageTransforms.ToNormalizedChw(source.TryLoad(i, out _)!, pixels.AsSpan(i * 3 * 32 * 32, 3 * 32 * 32));
        return tensor(pixels, [count, 3, 32, 32]);
    }

    [Fact]
    public void Train_OnAFashionMnistSlice_LowersReconstructionLossThreefold()
    {
        using var dir = new TempDir();
        using var trainer = TokenizerTrainer.Create(SmallConfigs.Tokenizer, FashionMnist.Slice(512), AugmentationKind.Flip, Options(300), dir.Path);
        using var heldOut = HeldOut();
        double before = TokenizerTrainer.ReconstructionMse(trainer.Model, heldOut);
        long rssAt50 = 0, rssAt300 = 0;
        var result = TrainingRunner.Run(trainer, checkpointEvery: 1000, p =>
        {
            if (p.Step == 50) rssAt50 = SettledRss();
            if (p.Step == 300) rssAt300 = SettledRss();
        }, CancellationToken.None);
        double after = TokenizerTrainer.ReconstructionMse(trainer.Model, heldOut);
        // One dispose scope per step: native memory stays flat (a step without one leaks ~19 MB, i.e. gigabytes here;
        // the bound leaves room for large-object-heap garbage and allocator slack).
        Assert.True(rssAt300 - rssAt50 < 256L << 20, $"RSS grew {(rssAt300 - rssAt50) >> 20} MiB over 250 steps");
        output.WriteLine($"held-out MSE {before:F4} -> {after:F4} ({before / after:F1}x), last train loss {result.Losses[^1]:F4}");
        Assert.Equal(300, result.FinalStep);
        Assert.True(after < before / 3, $"held-out reconstruction MSE {before:F4} → {after:F4}, expected below {before / 3:F4}");
        Assert.Empty(trainer.Skipped);
    }

    [Fact]
    public void Checkpoint_LoadsThroughTheServingLoader_WithOfficialKeys()
    {
        using var dir = new TempDir();
        using var trainer = TokenizerTrainer.Create(SmallConfigs.Tokenizer, FashionMnist.Slice(64), AugmentationKind.Flip, Options(4), dir.Path);
        TrainingRunner.Run(trainer, checkpointEvery: 2, progress: null, CancellationToken.None);
        string path = TrainingCheckpoint.Latest(dir.Path)!;
        Assert.EndsWith("0000004.pt", path);
        Assert.Equal(new[] { "model", "optimizer", "steps" }, CheckpointReader.Describe(path).Keys.Order());
        var keys = CheckpointReader.Read(path, CheckpointEntry.Model).Keys;
        Assert.Contains("encoder.visual_model.encoder.layers.1.self_attn.q_proj.weight", keys);
        Assert.Contains("encoder.refined_tokens", keys);
        Assert.Contains("refine_conv.weight", keys);
        Assert.Contains("decoder.to_pixel.model.weight", keys);
        Assert.Contains("quantize.embedding.weight", keys);

        using var loaded = VqModel.Load(path); // config.json two folders up, 'model' entry, strict
        using var images = HeldOut(4);
        trainer.Model.eval();
        using var scope = NewDisposeScope();
        var (expected, _) = trainer.Model.Encode(images);
        var (actual, _) = loaded.Encode(images);
        Assert.Equal(expected.data<long>().ToArray(), actual.data<long>().ToArray());
        var a = trainer.Model.Decode(expected, 16, 32);
        var b = loaded.Decode(actual, 16, 32);
        Assert.Equal(0f, (a - b).abs().max().item<float>());
    }

    [Fact]
    public void Resume_ContinuesStepCountAndLossCurveExactly()
    {
        using var full = new TempDir();
        using var split = new TempDir();
        var data = FashionMnist.Slice(64);
        var options = Options(8) with { Ema = true, EmaDecay = 0.9 };
        List<double> curve;
        using (var a = TokenizerTrainer.Create(SmallConfigs.Tokenizer, data, AugmentationKind.Flip, options, full.Path))
            curve = TrainingRunner.Run(a, 100, null, CancellationToken.None).Losses.ToList();

        using var cts = new CancellationTokenSource();
        using (var b = TokenizerTrainer.Create(SmallConfigs.Tokenizer, data, AugmentationKind.Flip, options, split.Path))
        {
            var first = TrainingRunner.Run(b, 100, p => { if (p.Step == 3) cts.Cancel(); }, cts.Token);
            Assert.True(first.Cancelled);
            Assert.Equal(curve.Take(3), first.Losses);
        }
        string latest = TrainingCheckpoint.Latest(split.Path)!;
        Assert.Equal(new[] { "ema", "model", "optimizer", "steps" }, CheckpointReader.Describe(latest).Keys.Order());
        using var c = TokenizerTrainer.Resume(SmallConfigs.Tokenizer, data, AugmentationKind.Flip, options, split.Path, latest);
        Assert.Equal(3, c.Step);
        var rest = TrainingRunner.Run(c, 100, null, CancellationToken.None).Losses;
        Assert.Equal(curve.Skip(3).ToArray(), rest.ToArray());
    }

    [Fact]
    public void ImageFolder_WithCorruptFiles_TrainsAndReportsTheSkippedOnes()
    {
        using var data = new TempDir();
        using var run = new TempDir();
        Data.PrefetchingImageLoaderTests.WriteFolder(data.Path);
        var source = new ImageFolderSource(data.Path);
        using var trainer = TokenizerTrainer.Create(SmallConfigs.Tokenizer, source, AugmentationKind.RandomCropFlip, Options(3) with { BatchSize = 4 }, run.Path);
        var result = TrainingRunner.Run(trainer, 100, null, CancellationToken.None);
        Assert.Equal(3, result.FinalStep);
        Assert.All(result.Losses, l => Assert.True(double.IsFinite(l)));
        Assert.Equal(new[] { "corrupt.jpg", "empty.png" }, trainer.Skipped.Select(s => Path.GetFileName(s.Name)).Order());
    }

    [Fact]
    public void Adversarial_TermsStartAtDiscStart_AndTheDiscriminatorIsCheckpointed()
    {
        using var dir = new TempDir();
        var options = Options(4) with { DiscWeight = 0.2, DiscStart = 2, DiscChannels = 8, DiscLayers = 2 };
        using var trainer = TokenizerTrainer.Create(SmallConfigs.Tokenizer, FashionMnist.Slice(64), AugmentationKind.Flip, options, dir.Path);
        var parts = new List<IReadOnlyDictionary<string, double>>();
        TrainingRunner.Run(trainer, 100, p => parts.Add(p.Parts), CancellationToken.None);
        Assert.DoesNotContain("gen", parts[0].Keys);
        Assert.DoesNotContain("disc", parts[1].Keys);
        Assert.Contains("gen", parts[2].Keys);
        Assert.True(parts[3]["disc"] > 0);
        string path = TrainingCheckpoint.Latest(dir.Path)!;
        Assert.Equal(new[] { "discriminator", "model", "optimizer", "optimizer_disc", "steps" }, CheckpointReader.Describe(path).Keys.Order());
        using var resumed = TokenizerTrainer.Resume(SmallConfigs.Tokenizer, FashionMnist.Slice(64), AugmentationKind.Flip, options with { TotalSteps = 5 }, dir.Path, path);
        Assert.Equal(4, resumed.Step);
    }

    /// <summary>Working set after a full managed collection (batch arrays live on the large-object heap).</summary>
    internal static long SettledRss()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        return Environment.WorkingSet;
    }
}
