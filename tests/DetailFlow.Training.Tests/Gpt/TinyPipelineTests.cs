using DetailFlow.Core.Tokenizer;
using DetailFlow.Training.Data;
using DetailFlow.Training.Gpt;
using DetailFlow.Training.Tokenizer;
using DetailFlow.Training.Tests.Tokenizer;

namespace DetailFlow.Training.Tests.Gpt;

/// <summary>A small tokenizer trained once on a Fashion-MNIST slice, shared by the code-extraction and AR tests.</summary>
public sealed class TrainedTinyTokenizer : IDisposable
{
    private readonly TempDir _dir = new();

    public TrainedTinyTokenizer()
    {
        Data = FashionMnist.Slice(256);
        using var trainer = TokenizerTrainer.Create(SmallConfigs.Tokenizer, Data, AugmentationKind.Flip,
            TokenizerTrainerTests.Options(200), _dir.Path);
        TrainingRunner.Run(trainer, 1000, null, CancellationToken.None);
        Path = trainer.SaveCheckpoint();
    }

    public IdxImageSource Data { get; }
    public string Path { get; }

    public void Dispose() => _dir.Dispose();
}

public class TinyPipelineTests(TrainedTinyTokenizer tokenizer, Xunit.Abstractions.ITestOutputHelper output) : IClassFixture<TrainedTinyTokenizer>
{
    [Fact]
    public void ExtractThenTrainAr_LowersCrossEntropyOnTheTokenizerCodes()
    {
        using var vq = VqModel.Load(tokenizer.Path);
        var extracted = CodeExtractor.Extract(vq, tokenizer.Data, new CodeExtractionOptions { Seed = 1 });
        Assert.Empty(extracted.Skipped);
        var codes = extracted.Codes;
        Assert.Equal((256, 2, 16, 3), (codes.Count, codes.Augmentations, codes.Tokens, codes.Columns));
        int usedAtFirst = Enumerable.Range(0, 256).Select(i => codes.At(i, 0, 0, 0)).Distinct().Count();
        output.WriteLine($"distinct codes {codes.Codes.Distinct().Count()}, at position 0: {usedAtFirst}");
        Assert.True(usedAtFirst >= 4, $"only {usedAtFirst} codes at position 0: the AR task would be trivial");

        using var dir = new TempDir();
        codes.Save(dir.Path, "fashion", 32, extracted.Info);
        var reopened = CodeDataset.Open(dir.Path, "fashion");
        Assert.Equal(codes.Codes, reopened.Codes);
        Assert.Equal(codes.Labels, reopened.Labels);

        var config = reopened.ShapeGpt(SmallConfigs.Gpt);
        Assert.Equal((512, 16, 4, 4), (config.VocabSize, config.BlockSize, config.GroupSize, config.EffectiveCausalNum));
        using var trainer = GptTrainer.Create(config, reopened, new GptTrainingOptions
        {
            BatchSize = 32, TotalSteps = 150, Lr = 2e-3, EmaDecay = 0.99, Seed = 2,
        }, Path.Combine(dir.Path, "ar"));
        double before = trainer.Evaluate(trainer.Model, batches: 2);
        TrainingRunner.Run(trainer, 1000, null, CancellationToken.None);
        double after = trainer.Evaluate(trainer.Model, batches: 2);
        output.WriteLine($"AR cross-entropy {before:F3} -> {after:F3} ({before / after:F2}x)");
        Assert.Equal(Math.Log(512), before, 3);
        Assert.True(after < before / 4, $"cross-entropy {before:F3} → {after:F3}, expected below {before / 4:F3}");
    }

    [Fact]
    public void Extract_TenCrop_SharesOneNoiseIndexPerImage()
    {
        using var vq = VqModel.Load(tokenizer.Path);
        var source = IdxImageSource.Open(FashionMnist.TestImages, FashionMnist.TestLabels, 32, 3);
        var codes = CodeExtractor.Extract(vq, source, new CodeExtractionOptions { TenCrop = true, Seed = 4 }).Codes;
        Assert.Equal((3, 10, 16, 3), (codes.Count, codes.Augmentations, codes.Tokens, codes.Columns));
        for (int i = 0; i < 3; i++)
        {
            // The first token where input differs from clean is the noise index; label = clean up to noise_end.
            var firstNoisy = Enumerable.Range(0, 10).Select(a => Enumerable.Range(0, 16).FirstOrDefault(t => codes.At(i, a, t, 1) != codes.At(i, a, t, 0), -1))
                .Where(t => t >= 0).ToArray();
            Assert.NotEmpty(firstNoisy);
            Assert.True(firstNoisy.Max() - firstNoisy.Min() < 4, $"image {i}: noisy starts {string.Join(",", firstNoisy)} do not share one group");
        }
        var again = CodeExtractor.Extract(vq, source, new CodeExtractionOptions { TenCrop = true, Seed = 4 }).Codes;
        Assert.Equal(codes.Codes, again.Codes);
    }
}
