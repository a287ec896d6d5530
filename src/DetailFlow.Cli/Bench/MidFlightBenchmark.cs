using System.Diagnostics;
using System.Text.Json.Serialization;
using DetailFlow.Core.Generation;
using DetailFlow.Core.Gpt;
using DetailFlow.Core.Runtime;

namespace DetailFlow.Cli.Bench;

/// <summary>
/// In-process mid-flight probe of the <see cref="NextDetailEngine"/> alone (no HTTP, no decoding): the latency of one
/// request on an idle engine versus one submitted at a random step while B closed-loop background requests keep a
/// batch mid-flight (staggered, each replaced as it completes), with mixed steps packed and, for comparison, padded
/// (<see cref="NextDetailEngine.PackMixedSteps"/>); the two modes alternate probe by probe, so machine load drifts hit
/// both alike. Every request has its own seed; guidance on (two cache rows per request), as in the service.
/// </summary>
public static class MidFlightBenchmark
{
    public static MidFlightReport Run(GptTransformer model, string name, int background, int probes, double cfgScale, CancellationToken ct)
    {
        long seed = 0;
        GenerationRequest Next() => new() { ClassLabel = seed % model.Config.NumClasses, Options = new SamplingOptions { Seed = ++seed, CfgScale = cfgScale } };
        int steps = model.Layout.ScheduleLengths().Count();   // forwards per image: C + N/G − C/G (each ends on a schedule length)
        var random = new Random(background * 1000 + probes);

        using var engine = new NextDetailEngine(model, maxRows: 2 * (background + 1));
        engine.Generate([Next()], ct);   // warm-up
        var idle = new List<double>();
        for (int i = 0; i < probes; i++)
        {
            long start = Stopwatch.GetTimestamp();
            var row = engine.Submit(Next());
            while (!row.Completion.IsCompleted) Step(engine, ct);
            idle.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
        }

        var live = new List<GenerationRow>();
        for (int j = 0; j < background; j++)
        {
            live.Add(engine.Submit(Next()));
            for (int k = 0; k < steps / Math.Max(background, 1); k++) Step(engine, ct);   // staggered phases
        }
        void KeepBackground()
        {
            for (int j = 0; j < live.Count; j++)
                if (live[j].Completion.IsCompleted) live[j] = engine.Submit(Next());
        }
        var packed = new List<double>();
        var padded = new List<double>();
        for (int i = 0; i < 2 * probes; i++)
        {
            engine.PackMixedSteps = i % 2 == 0;
            for (int k = random.Next(steps); k > 0; k--) { KeepBackground(); Step(engine, ct); }
            KeepBackground();
            long start = Stopwatch.GetTimestamp();
            var row = engine.Submit(Next());
            while (!row.Completion.IsCompleted) { Step(engine, ct); KeepBackground(); }
            (engine.PackMixedSteps ? packed : padded).Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
        }
        double idleP50 = Median(idle), packedP50 = Median(packed), paddedP50 = Median(padded);
        return new MidFlightReport(name, model.ParameterCount, background, probes, TorchSharp.torch.get_num_threads(),
            Round(idle), Round(packed), Round(padded), Math.Round(idleP50, 1), Math.Round(packedP50, 1), Math.Round(paddedP50, 1),
            packedP50 / idleP50, paddedP50 / idleP50, ServeProbe.ReadLoadAverage());
    }

    private static void Step(NextDetailEngine engine, CancellationToken ct = default)
    {
        ct.ThrowIfCancellationRequested();
        using var gcGuard = ScalarGcGuard.Enter();
        engine.Step();
    }

    private static double Median(IReadOnlyCollection<double> values) => ServeBenchmarkReport.Percentile(values, 0.5)!.Value;

    private static double[] Round(IEnumerable<double> values) => values.Select(v => Math.Round(v, 1)).ToArray();
}

/// <summary>Latencies (ms) of <see cref="MidFlightBenchmark"/>: idle, mid-flight packed, mid-flight padded; medians and ratios.</summary>
public sealed record MidFlightReport(
    [property: JsonPropertyName("model")] string Model,
    [property: JsonPropertyName("parameters")] long Parameters,
    [property: JsonPropertyName("background")] int Background,
    [property: JsonPropertyName("probes")] int Probes,
    [property: JsonPropertyName("torch_threads")] int TorchThreads,
    [property: JsonPropertyName("idle_ms")] double[] IdleMs,
    [property: JsonPropertyName("packed_ms")] double[] PackedMs,
    [property: JsonPropertyName("padded_ms")] double[] PaddedMs,
    [property: JsonPropertyName("idle_p50_ms")] double IdleP50Ms,
    [property: JsonPropertyName("packed_p50_ms")] double PackedP50Ms,
    [property: JsonPropertyName("padded_p50_ms")] double PaddedP50Ms,
    [property: JsonPropertyName("packed_ratio")] double PackedRatio,
    [property: JsonPropertyName("padded_ratio")] double PaddedRatio,
    [property: JsonPropertyName("load_average")] double? LoadAverage);
