using System.Diagnostics;
using System.Text.Json.Serialization;
using DetailFlow.Core.Generation;
using DetailFlow.Core.Gpt;
using DetailFlow.Core.Runtime;

namespace DetailFlow.Cli.Bench;

/// <summary>
/// In-process mid-flight probe of the <see cref="NextDetailEngine"/> alone (no HTTP, no decoding). Two engines share
/// one model: <i>idle</i> runs only the probe; <i>busy</i> keeps B closed-loop background requests mid-flight
/// (staggered, replaced as they complete). Each probe is submitted to both at once (the background at a random step),
/// and the engines then step in turn, one step each per round, the order alternating, until the probe completes in
/// both; a probe's latency in an engine is the time of that engine's steps while the probe was live. A request needs
/// the same number of steps alone or in a batch, so each round times the same step of the probe in both engines under
/// the same machine load: the ratio stays meaningful on a busy machine. Guidance on (two cache rows per request), as
/// in the service.
/// </summary>
public static class MidFlightBenchmark
{
    public static MidFlightReport Run(GptTransformer model, string name, int background, int probes, double cfgScale, CancellationToken ct)
    {
        int steps = model.Layout.ScheduleLengths().Count();   // forwards per image: C + N/G − C/G (each ends on a schedule length)
        var random = new Random(background * 1000 + probes);
        GenerationRequest Request(long seed) =>
            new() { ClassLabel = seed % model.Config.NumClasses, Options = new SamplingOptions { Seed = seed, CfgScale = cfgScale } };

        using var idle = new NextDetailEngine(model, maxRows: 2);
        using var served = new NextDetailEngine(model, maxRows: 2 * (background + 1));
        var busy = new Busy(served);
        idle.Generate([Request(1_000_000)], ct);   // warm-up
        for (int j = 0; j < background; j++)
        {
            busy.Live.Add(served.Submit(Request(j + 1)));
            for (int k = 0; k < steps / background; k++) busy.Step(ct);   // staggered phases
        }
        long nextBackground = background + 1;
        void KeepBackground()
        {
            for (int j = 0; j < background; j++)
                if (busy.Live[j].Completion.IsCompleted) busy.Live[j] = served.Submit(Request(nextBackground++));
        }

        var times = new[] { new List<double>(), new List<double>() };
        int differing = 0;
        var engines = new[] { idle, served };
        for (int i = 0; i < probes; i++)
        {
            for (int k = random.Next(steps); k > 0; k--)
            {
                KeepBackground();
                busy.Step(ct);
            }
            KeepBackground();
            var rows = engines.Select(e => e.Submit(Request(2_000_000 + i))).ToArray();
            var elapsed = new double[2];
            for (int round = 0; rows.Any(r => !r.Completion.IsCompleted); round++)
            {
                for (int n = 0; n < 2; n++)
                {
                    int e = (round + n) % 2;
                    if (rows[e].Completion.IsCompleted) continue;   // both need the same number of steps
                    long start = Stopwatch.GetTimestamp();
                    if (e == 0) Step(idle, ct); else busy.Step(ct);
                    elapsed[e] += Stopwatch.GetElapsedTime(start).TotalMilliseconds;
                }
                KeepBackground();
            }
            // Same seed, same codes, unless float summation order (a packed step) moved a draw across a boundary
            // (near-uniform random-model logits over 8192 codes make that possible; counted, not hidden).
            if (!rows[1].Completion.Result.SequenceEqual(rows[0].Completion.Result)) differing++;
            for (int e = 0; e < 2; e++) times[e].Add(elapsed[e]);
        }
        double idleP50 = ServeBenchmarkReport.Median(times[0]), busyP50 = ServeBenchmarkReport.Median(times[1]);
        return new MidFlightReport(name, model.ParameterCount, background, probes, TorchSharp.torch.get_num_threads(),
            Round(times[0]), Round(times[1]), Math.Round(idleP50, 1), Math.Round(busyP50, 1), busyP50 / idleP50,
            served.PackedSteps, differing, ServeProbe.ReadLoadAverage());
    }

    private sealed class Busy(NextDetailEngine engine)
    {
        public NextDetailEngine Engine { get; } = engine;
        public List<GenerationRow> Live { get; } = [];
        public void Step(CancellationToken ct) => MidFlightBenchmark.Step(Engine, ct);
    }

    private static void Step(NextDetailEngine engine, CancellationToken ct)
    {
        ct.ThrowIfCancellationRequested();
        using var gcGuard = ScalarGcGuard.Enter();
        engine.Step();
    }


    private static double[] Round(IEnumerable<double> values) => values.Select(v => Math.Round(v, 1)).ToArray();
}

/// <summary>Probe latencies (ms) of <see cref="MidFlightBenchmark"/>: idle and mid-flight; medians and their ratio.</summary>
public sealed record MidFlightReport(
    [property: JsonPropertyName("model")] string Model,
    [property: JsonPropertyName("parameters")] long Parameters,
    [property: JsonPropertyName("background")] int Background,
    [property: JsonPropertyName("probes")] int Probes,
    [property: JsonPropertyName("torch_threads")] int TorchThreads,
    [property: JsonPropertyName("idle_ms")] double[] IdleMs,
    [property: JsonPropertyName("mid_flight_ms")] double[] MidFlightMs,
    [property: JsonPropertyName("idle_p50_ms")] double IdleP50Ms,
    [property: JsonPropertyName("mid_flight_p50_ms")] double MidFlightP50Ms,
    [property: JsonPropertyName("mid_flight_ratio")] double MidFlightRatio,
    [property: JsonPropertyName("packed_steps")] long PackedSteps,
    [property: JsonPropertyName("probes_with_other_codes")] int ProbesWithOtherCodes,
    [property: JsonPropertyName("load_average")] double? LoadAverage);
