using System.Diagnostics;
using DetailFlow.Core.Decoding;
using DetailFlow.Core.Tokenizer;
using TorchSharp;
using static TorchSharp.torch;

namespace DetailFlow.Cli.Bench;

/// <summary>
/// Milliseconds per decoder call at each scheduled resolution: for every point (t, d_t) the backend decodes a batch of
/// rows of t random codes at d_t, <c>warmup</c> times untimed and then <c>runs</c> times timed; the report keeps the median and
/// the minimum. Wall-clock only — on a shared host the numbers vary with the neighbours (report best-of and load).
/// </summary>
public static class DecoderBenchmark
{
    /// <summary>One point per distinct resolution of the schedule: the longest valid prefix with that resolution.</summary>
    public static IReadOnlyList<(int T, int Resolution)> ScheduledPoints(IEnumerable<int> validPrefixes, Func<int, int> resolutionOf)
    {
        ArgumentNullException.ThrowIfNull(validPrefixes);
        ArgumentNullException.ThrowIfNull(resolutionOf);
        return validPrefixes.Select(t => (T: t, Resolution: resolutionOf(t)))
            .GroupBy(p => p.Resolution)
            .Select(g => g.MaxBy(p => p.T))
            .OrderBy(p => p.Resolution)
            .ToList();
    }

    /// <summary>The TorchSharp modules of <paramref name="model"/>, batch 1.</summary>
    public static IReadOnlyList<DecoderTiming> Run(VqModel model, IReadOnlyList<(int T, int Resolution)> points,
        int warmup = 2, int runs = 5, int seed = 0, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        using var backend = new TorchDecoderBackend(model);
        return Run(backend, model.Config.CodebookSize, points, batch: 1, warmup, runs, seed, cancellationToken);
    }

    /// <summary>
    /// <paramref name="backend"/> decoding <paramref name="batch"/> rows (every row the same t) per call; codes are
    /// drawn uniformly from [0, <paramref name="codebookSize"/>) with <paramref name="seed"/>.
    /// </summary>
    public static IReadOnlyList<DecoderTiming> Run(IDecoderBackend backend, int codebookSize, IReadOnlyList<(int T, int Resolution)> points,
        int batch = 1, int warmup = 2, int runs = 5, int seed = 0, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(backend);
        ArgumentNullException.ThrowIfNull(points);
        if (codebookSize < 1) throw new ArgumentOutOfRangeException(nameof(codebookSize), codebookSize, "codebook size must be positive");
        if (batch < 1) throw new ArgumentOutOfRangeException(nameof(batch), batch, "batch must be ≥ 1");
        if (warmup < 0) throw new ArgumentOutOfRangeException(nameof(warmup), warmup, "warm-up count must be ≥ 0");
        if (runs < 1) throw new ArgumentOutOfRangeException(nameof(runs), runs, "need at least one timed run");

        using var generator = new torch.Generator((ulong)seed);
        using var codes = torch.randint(0, codebookSize, [batch, backend.NumLatentTokens], dtype: int64, generator: generator);
        var timings = new List<DecoderTiming>();
        foreach (var (t, resolution) in points)
        {
            var samples = new double[runs];
            for (int i = -warmup; i < runs; i++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                long start = Stopwatch.GetTimestamp();
                using (var pixels = backend.Decode(codes, t, resolution))
                    Synchronize(pixels);
                double ms = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
                if (i >= 0) samples[i] = ms;
            }
            Array.Sort(samples);
            double median = runs % 2 == 1 ? samples[runs / 2] : (samples[runs / 2 - 1] + samples[runs / 2]) / 2;
            timings.Add(new DecoderTiming(t, resolution, median, samples[0], runs, batch));
        }
        return timings;
    }

    /// <summary>Waits for the device: reading one value forces queued GPU work to finish (a no-op cost on CPU).</summary>
    private static void Synchronize(Tensor pixels)
    {
        using var scope = NewDisposeScope();
        _ = pixels.flatten()[0].to(float32).cpu().item<float>();
    }
}

/// <summary>Median and best wall-clock milliseconds of one decoder call decoding <paramref name="Batch"/> rows of t codes at d_t² pixels.</summary>
public sealed record DecoderTiming(int T, int Resolution, double MedianMs, double MinMs, int Runs, int Batch = 1);
