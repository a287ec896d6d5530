using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using DetailFlow.Core.Generation;
using DetailFlow.Core.Gpt;
using TorchSharp;
using static TorchSharp.torch;

namespace DetailFlow.Cli.Bench;

/// <summary>
/// <c>detailflow bench generate</c>: seconds per image of the KV-cached engine and of the recompute sampler (the
/// official algorithm) on a randomly initialised GPT of the released shape, at several numbers of concurrent requests
/// and weight precisions, with CFG and multinomial sampling as in the official evaluation (top-k = V, top-p = 1,
/// temperature 1). Per configuration: median of <see cref="GenerationBenchmarkOptions.Runs"/> timed runs after one
/// warm-up image per engine and precision; achieved GFLOP/s from <see cref="GenerationFlops"/>; peak RSS; load average.
/// </summary>
public static class GenerationBenchmark
{
    public static Task<int> RunAsync(GenerationBenchmarkOptions options, TextWriter output, CancellationToken cancellationToken) =>
        Task.Run(() => Run(options.Validate(), output, cancellationToken), cancellationToken);

    private static int Run(GenerationBenchmarkOptions options, TextWriter output, CancellationToken cancellationToken)
    {
        var report = new GenerationBenchmarkReport();
        var config = options.Model;
        string loadBefore = LoadAverage();
        var clock = Stopwatch.StartNew();
        torch.manual_seed(0);
        using var model = new GptTransformer(config);
        model.eval();
        if (!options.Json)
        {
            output.WriteLine(Invariant($"model: random GPT {config.NLayer}×{config.Dim}, {config.NHead} heads, vocab {config.VocabSize}, {config.NumClasses} classes, N = {config.BlockSize}, G = {config.GroupSize}, C = {config.EffectiveCausalNum}; {model.ParameterCount:N0} parameters (built in {clock.Elapsed.TotalSeconds:F1} s)"));
            output.WriteLine(Invariant($"sampling: CFG {options.CfgScale}, multinomial, temperature 1, no top-k/top-p; {options.Runs} timed runs per row after a warm-up, median reported"));
            output.WriteLine(Invariant($"machine: {Environment.ProcessorCount} cores, torch threads {torch.get_num_threads()}, OMP_WAIT_POLICY {Environment.GetEnvironmentVariable("OMP_WAIT_POLICY") ?? "(libgomp default: spin)"}, load average before: {loadBefore}"));
            output.WriteLine();
            output.WriteLine(Invariant($"{"engine",-10} {"dtype",-6} {"concurrent",10} {"s/image",9} {"GFLOP/s",9}   runs (s, whole batch)"));
        }

        // fp32 rows first: casting to fp16 is one-way.
        foreach (var precision in options.Precisions.Distinct().OrderBy(p => p))
        {
            if (precision == BenchPrecision.Fp16) model.to(ScalarType.Float16);
            foreach (var engine in options.Engines.Distinct())
            {
                TimeRun(model, engine, options, concurrent: 1, run: -1, cancellationToken);  // warm-up
                foreach (int concurrent in options.Concurrency)
                {
                    var seconds = Enumerable.Range(0, options.Runs)
                        .Select(run => TimeRun(model, engine, options, concurrent, run, cancellationToken)).ToArray();
                    double median = ServeBenchmarkReport.Median(seconds);
                    double flops = GenerationFlops.PerImage(config, engine, options.CfgScale != 1.0) * concurrent;
                    var row = new GenerationBenchmarkRow(Name(engine), concurrent, Name(precision), median / concurrent, flops / median / 1e9)
                    {
                        RunSeconds = seconds,
                    };
                    report.Rows.Add(row);
                    if (!options.Json)
                        output.WriteLine(Invariant($"{row.Engine,-10} {row.DType,-6} {row.Concurrent,10} {row.SecondsPerImage,9:F3} {row.Gflops,9:F1}   {string.Join(" ", seconds.Select(s => s.ToString("F2", CultureInfo.InvariantCulture)))}"));
                }
            }
        }

        options.AddPreviews?.Invoke(report, cancellationToken).GetAwaiter().GetResult();
        report.PeakRssMb = PeakRssMb();
        if (options.Json)
        {
            output.WriteLine(JsonSerializer.Serialize(report));
            return 0;
        }
        output.WriteLine();
        foreach (var line in Summary(report)) output.WriteLine(line);
        output.WriteLine(Invariant($"peak RSS: {report.PeakRssMb:F0} MB; total {clock.Elapsed.TotalSeconds:F0} s; load average after: {LoadAverage()}"));
        return 0;
    }

    /// <summary>Wall seconds to generate <paramref name="concurrent"/> images at once (all N codes each).</summary>
    private static double TimeRun(GptTransformer model, BenchEngine engine, GenerationBenchmarkOptions options, int concurrent, int run,
        CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        int classes = model.Config.NumClasses;
        var labels = Enumerable.Range(0, concurrent).Select(i => (long)(((run + 1) * 7919 + i * 37) % classes)).ToArray();
        var sampling = labels.Select((_, i) => new SamplingOptions { CfgScale = options.CfgScale, Seed = run * 1000L + i }).ToArray();
        int rows = concurrent * (options.CfgScale != 1.0 ? 2 : 1);
        if (engine == BenchEngine.Kv)
        {
            using var kv = new NextDetailEngine(model, Math.Max(rows, 2));   // cache allocation is not timed
            var requests = labels.Select((label, i) => new GenerationRequest { ClassLabel = label, Options = sampling[i] }).ToList();
            var clock = Stopwatch.StartNew();
            kv.Generate(requests, cancellationToken);
            return clock.Elapsed.TotalSeconds;
        }
        var recompute = new RecomputeSampler(model);
        var start = Stopwatch.StartNew();
        recompute.Generate(labels, sampling, cancellationToken: cancellationToken);
        return start.Elapsed.TotalSeconds;
    }

    private static IEnumerable<string> Summary(GenerationBenchmarkReport report)
    {
        foreach (var dtype in report.Rows.Select(r => r.DType).Distinct())
        {
            var kv = report.Rows.Where(r => r.DType == dtype && r.Engine == Name(BenchEngine.Kv)).ToDictionary(r => r.Concurrent);
            var rec = report.Rows.Where(r => r.DType == dtype && r.Engine == Name(BenchEngine.Recompute)).ToDictionary(r => r.Concurrent);
            var speedups = kv.Keys.Where(rec.ContainsKey).Order()
                .Select(c => Invariant($"{c} → {rec[c].SecondsPerImage / kv[c].SecondsPerImage:F2}×")).ToList();
            if (speedups.Count > 0) yield return $"{dtype}: KV speed-up over recompute at concurrency {string.Join(", ", speedups)}";
            if (kv.Count > 1 && kv.ContainsKey(1))
            {
                int most = kv.Keys.Max();
                yield return Invariant($"{dtype}: KV per-image cost at {most} concurrent = {kv[most].SecondsPerImage / kv[1].SecondsPerImage:F2}× the cost at 1");
            }
        }
    }

    private static string Name(BenchEngine engine) => engine == BenchEngine.Kv ? "kv" : "recompute";

    private static string Name(BenchPrecision precision) => precision == BenchPrecision.Fp32 ? "fp32" : "fp16";

    /// <summary>Peak resident set (VmHWM of /proc/self/status), in MB; 0 where /proc is unavailable.</summary>
    private static double PeakRssMb()
    {
        const string path = "/proc/self/status";
        if (!File.Exists(path)) return 0;
        var line = File.ReadLines(path).FirstOrDefault(l => l.StartsWith("VmHWM:", StringComparison.Ordinal));
        if (line is null) return 0;
        return long.Parse(line["VmHWM:".Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) / 1024.0;
    }

    private static string LoadAverage()
    {
        const string path = "/proc/loadavg";
        return File.Exists(path) ? string.Join(" ", File.ReadAllText(path).Split(' ').Take(3)) : "n/a";
    }

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
