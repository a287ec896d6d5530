using DetailFlow.Core.Checkpoints;
using DetailFlow.Core.Gpt;
using DetailFlow.Training.Checkpointing;
using DetailFlow.Training.Data;
using DetailFlow.Training.Gpt;
using TorchSharp;

namespace DetailFlow.Training.Tests.Gpt;

public class GptTrainerTests
{
    internal static readonly GptConfig Tiny = new()
    {
        Dim = 32, NLayer = 2, NHead = 2, VocabSize = 64, NumClasses = 4, BlockSize = 16, GroupSize = 4, CausalNum = 4, MultipleOf = 32,
    };

    /// <summary>Codes with class structure: code t of class c is (5c + 3t) mod V, with 10 % of codes replaced at random.</summary>
    internal static CodeDataset StructuredCodes(int images = 64, int seed = 0)
    {
        var rng = new Random(seed);
        int a = 2, n = Tiny.BlockSize, k = 3;
        var codes = new long[images * a * n * k];
        var labels = new long[images];
        for (int i = 0; i < images; i++)
        {
            labels[i] = i % Tiny.NumClasses;
            for (int j = 0; j < a; j++)
            for (int t = 0; t < n; t++)
            for (int c = 0; c < k; c++)
                codes[((i * a + j) * n + t) * k + c] = rng.NextDouble() < 0.1 ? rng.Next(Tiny.VocabSize) : (5 * labels[i] + 3 * t) % Tiny.VocabSize;
        }
        return new CodeDataset(codes, labels, a, n, k);
    }

    private static GptTrainingOptions Options(long steps) => new()
    {
        BatchSize = 16, TotalSteps = steps, Lr = 3e-3, WarmupRatio = 0.05, EmaDecay = 0.9, Seed = 7, KeepLast = 2,
    };

    [Fact]
    public void Train_OnStructuredCodes_LowersCrossEntropyThreefold()
    {
        using var dir = new TempDir();
        using var trainer = GptTrainer.Create(Tiny, StructuredCodes(), Options(200), dir.Path);
        double before = trainer.Evaluate(trainer.Model);
        Assert.Equal(Math.Log(Tiny.VocabSize), before, 3); // zeroed output layer: uniform logits
        long rssAt20 = 0, rssAt200 = 0;
        var result = TrainingRunner.Run(trainer, checkpointEvery: 1000, p =>
        {
            if (p.Step == 20) rssAt20 = SettledRss();
            if (p.Step == 200) rssAt200 = SettledRss();
        }, CancellationToken.None);
        double after = trainer.Evaluate(trainer.Model);
        Assert.True(rssAt200 - rssAt20 < 256L << 20, $"RSS grew {(rssAt200 - rssAt20) >> 20} MiB over 180 steps");
        Assert.Equal(200, result.FinalStep);
        Assert.True(after < before / 3, $"cross-entropy {before:F3} → {after:F3}, expected below {before / 3:F3}");
    }

    [Fact]
    public void Checkpoint_LoadsThroughTheServingLoader_WithOfficialKeys()
    {
        using var dir = new TempDir();
        using var trainer = GptTrainer.Create(Tiny, StructuredCodes(), Options(20), dir.Path);
        TrainingRunner.Run(trainer, checkpointEvery: 10, progress: null, CancellationToken.None);
        var files = TrainingCheckpoint.List(dir.Path);
        Assert.Equal(new[] { "0000010.pt", "0000020.pt" }, files.Select(Path.GetFileName));

        var layout = CheckpointReader.Describe(files[^1]);
        Assert.Equal(new[] { "ema", "model", "optimizer", "steps" }, layout.Keys.Order());
        var weights = CheckpointReader.Read(files[^1], CheckpointEntry.Ema);
        Assert.Contains("layers.1.attention.wqkv.weight", weights.Keys);
        Assert.Contains("cls_embedding.embedding_table.weight", weights.Keys);
        Assert.Contains("spe_tok_embeddings.special_embeddings.weight", weights.Keys);

        using var loaded = GptTransformer.Load(files[^1]); // config.json two folders up, 'ema' entry, strict
        Assert.Equal(Tiny.NLayer, loaded.Config.NLayer);
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var codes = torch.tensor(new long[] { 1, 2, 3, 4, 5, 6, 7, 8 }, [1, 8]);
        var classes = torch.tensor(new long[] { 2 }, [1]);
        var expected = trainer.Ema!.Forward(codes, classes);
        var actual = loaded.Forward(codes, classes);
        Assert.Equal(0f, (expected - actual).abs().max().item<float>());
    }

    [Fact]
    public void Resume_ContinuesStepCountAndLossCurveExactly()
    {
        using var full = new TempDir();
        using var split = new TempDir();
        var data = StructuredCodes();
        using var a = GptTrainer.Create(Tiny, data, Options(12), full.Path);
        var curve = TrainingRunner.Run(a, 100, null, CancellationToken.None).Losses;

        using var cts = new CancellationTokenSource();
        using (var b = GptTrainer.Create(Tiny, data, Options(12), split.Path))
        {
            var first = TrainingRunner.Run(b, 100, p => { if (p.Step == 5) cts.Cancel(); }, cts.Token);
            Assert.True(first.Cancelled);
            Assert.Equal(5, first.FinalStep);
            Assert.Equal(curve.Take(5), first.Losses);
        }
        string latest = TrainingCheckpoint.Latest(split.Path)!;
        Assert.EndsWith("0000005.pt", latest);
        using var c = GptTrainer.Resume(Tiny, data, Options(12), split.Path, latest);
        Assert.Equal(5, c.Step);
        var rest = TrainingRunner.Run(c, 100, null, CancellationToken.None).Losses;
        Assert.Equal(curve.Skip(5).ToArray(), rest.ToArray());
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
