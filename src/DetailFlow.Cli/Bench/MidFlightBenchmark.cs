using System.Diagnostics;
using System.Text.Json.Serialization;
using DetailFlow.Core.Generation;
using DetailFlow.Core.Gpt;
using DetailFlow.Core.Runtime;

namespace DetailFlow.Cli.Bench;

/// <summary>
/// In-process mid-flight probe of the <see cref="NextDetailEngine"/> alone (no HTTP, no decoding). Three engines share
/// one model: <i>idle</i> runs only the probe; <i>packed</i> and <i>padded</i> (<see cref="NextDetailEngine.Packing"/>
/// <see cref="MixedStepPacking.Always"/> and <see cref="MixedStepPacking.Never"/>; the served default, Auto, is Always
/// on the mid and GPT-L presets and Never on the tiny one) each keep B closed-loop background requests mid-flight (staggered, replaced as they complete, the same seeds in
/// both, so their batches are identical). Each probe is submitted to all three at once (the background at a random
/// step), and the engines then step in turn, one step each per round, the order rotating, until the probe completes in
/// all three; a probe's latency in an engine is the time of that engine's steps while the probe was live. A request
/// needs the same number of steps alone or in a batch, so each round times the same step of the probe in all three
/// engines under the same machine load: the ratios stay meaningful on a busy machine. Guidance on (two cache rows per
/// request), as in the service.
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
        using var packed = new NextDetailEngine(model, maxRows: 2 * (background + 1)) { Packing = MixedStepPacking.Always };
        using var padded = new NextDetailEngine(model, maxRows: 2 * (background + 1)) { Packing = MixedStepPacking.Never };
        var busy = new[] { new Busy(packed), new Busy(padded) };
        idle.Generate([Request(1_000_000)], ct);   // warm-up
        for (int j = 0; j < background; j++)
        {
            foreach (var b in busy) b.Live.Add(b.Engine.Submit(Request(j + 1)));
            for (int k = 0; k < steps / background; k++) foreach (var b in busy) b.Step(ct);   // staggered phases
        }
        long nextBackground = background + 1;
        void KeepBackground()
        {
            for (int j = 0; j < background; j++)
            {
                if (!busy[0].Live[j].Completion.IsCompleted) continue;
                foreach (var b in busy) b.Live[j] = b.Engine.Submit(Request(nextBackground));
                nextBackground++;
            }
        }

        var times = new[] { new List<double>(), new List<double>(), new List<double>() };
        int differing = 0;
        var engines = new[] { idle, packed, padded };
        for (int i = 0; i < probes; i++)
        {
            for (int k = random.Next(steps); k > 0; k--)
            {
                KeepBackground();
                foreach (var b in busy) b.Step(ct);
            }
            KeepBackground();
            var rows = engines.Select(e => e.Submit(Request(2_000_000 + i))).ToArray();
            var elapsed = new double[3];
            for (int round = 0; rows.Any(r => !r.Completion.IsCompleted); round++)
            {
                for (int n = 0; n < 3; n++)
                {
                    int e = (round + n) % 3;
                    if (rows[e].Completion.IsCompleted) continue;   // all three need the same number of steps
                    long start = Stopwatch.GetTimestamp();
                    if (e == 0) Step(idle, ct); else busy[e - 1].Step(ct);
                    elapsed[e] += Stopwatch.GetElapsedTime(start).TotalMilliseconds;
                }
                KeepBackground();
            }
            for (int e = 0; e < 3; e++)
            {
                // Same seed, same codes, unless float summation order moved a draw across a boundary (near-uniform
                // random-model logits over 8192 codes make that possible; counted, not hidden).
                if (!rows[e].Completion.Result.SequenceEqual(rows[0].Completion.Result)) differing++;
                times[e].Add(elapsed[e]);
            }
        }
        double idleP50 = ServeBenchmarkReport.Median(times[0]), packedP50 = ServeBenchmarkReport.Median(times[1]), paddedP50 = ServeBenchmarkReport.Median(times[2]);
        return new MidFlightReport(name, model.ParameterCount, background, probes, TorchSharp.torch.get_num_threads(),
            Round(times[0]), Round(times[1]), Round(times[2]), Math.Round(idleP50, 1), Math.Round(packedP50, 1), Math.Round(paddedP50, 1),
            packedP50 / idleP50, paddedP50 / idleP50, differing, ServeProbe.ReadLoadAverage());
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

/// <summary>Probe latencies (ms) of <see cref="MidFlightBenchmark"/>: idle, mid-flight packed, mid-flight padded; medians and ratios.</summary>
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
    [property: JsonPropertyName("probes_with_other_codes")] int ProbesWithOtherCodes,
    [property: JsonPropertyName("load_average")] double? LoadAverage);
