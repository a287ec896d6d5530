using DetailFlow.Core.Generation;
using DetailFlow.Core.Gpt;
using DetailFlow.Core.Imaging;
using DetailFlow.Core.Tokenizer;
using TorchSharp;
using static TorchSharp.torch;

namespace DetailFlow.Training.Evaluation;

/// <summary>gFID and Inception Score of one sample folder.</summary>
public sealed record ClassConditionalScore(long Seed, int Images, int Generated, double Fid, double InceptionScore, double InceptionScoreStd);

/// <summary>
/// gFID / IS of a class-conditional GPT + tokenizer (official <c>sample_c2i_ddp.py</c> → <c>evaluator.py</c>):
/// <see cref="PerClass"/> images of every class (image i has class ⌊i / PerClass⌋ and sampling seed
/// <see cref="ImageSeed"/>, so a folder resumes and any subset reproduces), decoded with all N codes, saved as 8-bit
/// PNGs, then scored against reference statistics in the features of an <see cref="IFeatureExtractor"/>.
/// </summary>
public sealed class ClassConditionalEvaluation(GptTransformer gpt, VqModel tokenizer)
{
    /// <summary>Images per generation batch (a guided image takes two KV-cache rows).</summary>
    public int BatchSize { get; init; } = 16;

    public required int PerClass { get; init; }

    /// <summary>Sampling options shared by every image (their seed is replaced per image).</summary>
    public required SamplingOptions Options { get; init; }

    public int Classes => gpt.Config.NumClasses;
    public int Count => Classes * PerClass;

    /// <summary>Sampling seed of image <paramref name="index"/> under global seed <paramref name="seed"/>.</summary>
    public static long ImageSeed(long seed, int index) => seed * 10_000_000L + index;

    /// <summary>Generates the images of <paramref name="samples"/> that are missing; returns how many it wrote.</summary>
    public int Sample(SampleFolder samples, long seed, Action<long, string>? progress = null, CancellationToken cancellationToken = default)
    {
        int size = tokenizer.Config.ImageSize, n = tokenizer.NumLatentTokens;
        if (samples.ImageSize != size) throw new ArgumentException($"sample folder holds {samples.ImageSize}² images, the tokenizer makes {size}²", nameof(samples));
        if (n != gpt.Config.BlockSize || tokenizer.Config.CodebookSize != gpt.Config.VocabSize)
            throw new ArgumentException($"tokenizer (N {n}, V {tokenizer.Config.CodebookSize}) and GPT (block {gpt.Config.BlockSize}, vocab {gpt.Config.VocabSize}) do not match");
        var missing = samples.Missing(Count);
        progress?.Invoke(Count - missing.Count, $"{missing.Count} to generate");
        using var engine = new NextDetailEngine(gpt, maxRows: 2 * BatchSize);
        for (int start = 0; start < missing.Count; start += BatchSize)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var batch = missing.Skip(start).Take(BatchSize).ToArray();
            var requests = batch.Select(i => new GenerationRequest
            {
                ClassLabel = i / PerClass, Options = Options with { Seed = ImageSeed(seed, i) }, CancellationToken = cancellationToken,
            }).ToArray();
            var codes = engine.Generate(requests, cancellationToken);
            using (var scope = NewDisposeScope())
            {
                var images = PixelConversion.ToRgb(tokenizer.Decode(tensor(codes.SelectMany(c => c).ToArray(), [batch.Length, n]), n, size).to(float32));
                for (int j = 0; j < batch.Length; j++) samples.Write(batch[j], images[j]);
            }
            progress?.Invoke(Count - missing.Count + start + batch.Length, $"seed {seed}");
        }
        return missing.Count;
    }

    /// <summary>FID against <paramref name="reference"/> and the Inception Score (10 splits) of the folder's first <see cref="Count"/> images.</summary>
    public static (double Fid, double Is, double IsStd, FeatureStatistics Statistics) Score(SampleFolder samples, int count, IFeatureExtractor extractor,
        FeatureStatistics reference, int batchSize = 16, Action<long, string>? progress = null, CancellationToken cancellationToken = default)
    {
        using var accumulator = new FeatureAccumulator();
        var logits = new List<Tensor>();
        try
        {
            for (int start = 0; start < count; start += batchSize)
            {
                cancellationToken.ThrowIfCancellationRequested();
                using var scope = NewDisposeScope();
                var images = Enumerable.Range(start, Math.Min(batchSize, count - start))
                    .Select(i => samples.TryRead(i) ?? throw new InvalidDataException($"{samples.PathOf(i)}: missing or unreadable; run the sampling again to complete the folder"))
                    .ToArray();
                var (features, l) = extractor.Extract(ImageTensors.ToUint8(images));
                accumulator.Add(features);
                logits.Add(l.MoveToOuterDisposeScope());
                progress?.Invoke(start + images.Length, extractor.Name);
            }
            var stats = accumulator.ToStatistics();
            using var all = cat(logits, 0);
            var (isMean, isStd) = InceptionScore.Compute(all, splits: Math.Min(10, count));
            return (stats.FrechetDistance(reference), isMean, isStd, stats);
        }
        finally
        {
            foreach (var l in logits) l.Dispose();
        }
    }
}
