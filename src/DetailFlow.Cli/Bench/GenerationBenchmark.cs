using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using DetailFlow.Core.Generation;
using DetailFlow.Core.Gpt;
using DetailFlow.Core.Runtime;
using DetailFlow.Core.Tokenizer;
using TorchSharp;
using static TorchSharp.torch;

namespace DetailFlow.Cli.Bench;

/// <summary>
/// <c>detailflow bench generate</c>: seconds per image of the KV-cached engine and of the recompute sampler (the
/// official algorithm) on a randomly initialised GPT of the released shape, at several numbers of concurrent requests
/// and weight precisions, with CFG and multinomial sampling as in the official evaluation (top-k = V, top-p = 1,
/// temperature 1). Per configuration: median of <see cref="GenerationBenchmarkOptions.Runs"/> timed runs after one
/// warm-up image per engine and precision; achieved GFLOP/s from <see cref="GenerationFlops"/>; the KV rows as a
/// fraction of the roofline's floor (<see cref="RooflineFloor"/>, measured first; its timings also give the precision
/// <c>--dtype auto</c> runs); peak RSS; load average.
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
        var decoder = TokenizerPresets.DetailFlow16;
        var roofline = RooflineMeasurement.Measure(config, decoder, options.Concurrency.Max(), TimeSpan.FromSeconds(options.RooflineBudgetSeconds));
        report.Roofline = roofline;
        report.AutoDType = roofline.AutoGpt;
        if (!options.Json)
        {
            output.WriteLine(Invariant($"model: random GPT {config.NLayer}×{config.Dim}, {config.NHead} heads, vocab {config.VocabSize}, {config.NumClasses} classes, N = {config.BlockSize}, G = {config.GroupSize}, C = {config.EffectiveCausalNum}"));
            output.WriteLine(Invariant($"sampling: CFG {options.CfgScale}, multinomial, temperature 1, no top-k/top-p; {options.Runs} timed runs per row after a warm-up, median reported"));
            output.WriteLine(Invariant($"machine: {Environment.ProcessorCount} cores, torch threads {torch.get_num_threads()}, OMP_WAIT_POLICY {Environment.GetEnvironmentVariable("OMP_WAIT_POLICY") ?? "(libgomp default: spin)"}, load average before: {loadBefore}"));
            output.WriteLine(Invariant($"roofline ({roofline.Seconds:F1} s): GPT GEMM GFLOP/s at 1 / {roofline.Requests} requests: {string.Join(", ", roofline.Gpt.Select(c => Invariant($"{c.DType} {c.SingleGflops:F0} / {c.SaturatedGflops:F0}")))}; weights stream at {roofline.BandwidthGbPerSecond:F1} GB/s; auto = {roofline.AutoGpt}"));
            output.WriteLine();
            output.WriteLine(Invariant($"{"engine",-10} {"dtype",-16} {"concurrent",10} {"s/image",9} {"GFLOP/s",9} {"of floor",9}   runs (s, whole batch)"));
        }
        foreach (var precision in options.Precisions.Distinct())
            RunPrecision(precision, options, report, output, cancellationToken);

        options.AddPreviews?.Invoke(report, cancellationToken).GetAwaiter().GetResult();
        report.PeakRssMb = PeakRssMb();
        if (options.Json)
        {
            output.WriteLine(JsonSerializer.Serialize(report));
            return 0;
        }
        output.WriteLine();
        foreach (var line in Summary(report)) output.WriteLine(line);
        output.WriteLine("of floor: the roofline's GPT floor at that concurrency (bench roofline; decode excluded here) ÷ the measured s/image");
        output.WriteLine(Invariant($"peak RSS: {report.PeakRssMb:F0} MB; total {clock.Elapsed.TotalSeconds:F0} s; load average after: {LoadAverage()}"));
        return 0;
    }

    /// <summary>The rows of one --dtype entry, on a model built from the same seed and cast to the precision that runs.</summary>
    private static void RunPrecision(ModelPrecision precision, GenerationBenchmarkOptions options, GenerationBenchmarkReport report,
        TextWriter output, CancellationToken cancellationToken)
    {
        var roofline = report.Roofline!;
        ModelPrecisions.TryParse(roofline.AutoGpt, out var auto);
        var dtype = precision.ToScalarType() ?? auto.ToScalarType() ?? ScalarType.Float32;
        string name = ModelPrecisions.ShortName(dtype), requested = precision == ModelPrecision.Auto ? "auto" : name;
        var floor = RooflineFloor.For(roofline, options.Model, TokenizerPresets.DetailFlow16, name, roofline.AutoDecoder);
        torch.manual_seed(0);
        using var model = new GptTransformer(options.Model);
        model.eval();
        if (dtype != ScalarType.Float32) model.to(dtype);
        var packing = PackingProbe.Choose(options.Weights, ProbeWorkload.Gpt(options.Model, 2L * options.Concurrency.Max()), dtype, CPU, TimeSpan.FromSeconds(1));
        if (packing.Pack) PackedLinear.Pack(model, 2L * options.Model.GroupSize);
        var attention = AttentionProbe.Choose(options.Attention, options.Model, dtype, CPU, 2 * options.Concurrency.Max(), TimeSpan.FromSeconds(0.5));
        model.OnePassAttentionRows = attention.OnePassRows;
        var products = BlockedProductProbe.Choose(model, options.HostRows, 2 * options.Concurrency.Max(), TimeSpan.FromSeconds(0.5));
        if (!options.Json) output.WriteLine($"{name}: {packing.Describe()}; attention: {attention.Describe()}; products: {products.Describe()}");
        foreach (var engine in options.Engines.Distinct())
        {
            TimeRun(model, engine, options, concurrent: 1, run: -1, cancellationToken);  // warm-up
            foreach (int concurrent in options.Concurrency)
            {
                var seconds = Enumerable.Range(0, options.Runs)
                    .Select(run => TimeRun(model, engine, options, concurrent, run, cancellationToken)).ToArray();
                double median = ServeBenchmarkReport.Median(seconds);
                double flops = GenerationFlops.PerImage(options.Model, engine, options.CfgScale != 1.0) * concurrent;
                double fraction = engine == BenchEngine.Kv ? RooflineFloor.Fraction(floor.SecondsPerImage(concurrent, includeDecode: false), median / concurrent) : 0;
                var row = new GenerationBenchmarkRow(Name(engine), concurrent, name, median / concurrent, flops / median / 1e9)
                {
                    RunSeconds = seconds, RequestedDType = requested, FloorFraction = fraction, Weights = PackedLinear.LayoutOf(model),
                    Attention = attention.Summary, Products = products.Summary,
                };
                report.Rows.Add(row);
                if (!options.Json)
                    output.WriteLine(Invariant($"{row.Engine,-10} {Label(row),-16} {row.Concurrent,10} {row.SecondsPerImage,9:F3} {row.Gflops,9:F1} {(fraction > 0 ? fraction.ToString("F2", CultureInfo.InvariantCulture) : "—"),9}   {string.Join(" ", seconds.Select(s => s.ToString("F2", CultureInfo.InvariantCulture)))}"));
            }
        }
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
        foreach (var dtype in report.Rows.Select(Label).Distinct())
        {
            var kv = report.Rows.Where(r => Label(r) == dtype && r.Engine == Name(BenchEngine.Kv)).ToDictionary(r => r.Concurrent);
            var rec = report.Rows.Where(r => Label(r) == dtype && r.Engine == Name(BenchEngine.Recompute)).ToDictionary(r => r.Concurrent);
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

    /// <summary>The precision that ran, prefixed with <c>auto:</c> where --dtype auto chose it.</summary>
    private static string Label(GenerationBenchmarkRow row) =>
        (row.RequestedDType == "auto" ? "auto:" + row.DType : row.DType) + (row.Weights == "packed" ? "+packed" : "");

    private static string Name(BenchEngine engine) => engine == BenchEngine.Kv ? "kv" : "recompute";

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
