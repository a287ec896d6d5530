using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using DetailFlow.Cli.Console;
using DetailFlow.Core.Decoding;
using DetailFlow.Core.Generation;
using DetailFlow.Cli.Bench;
using DetailFlow.Core.Imaging;
using DetailFlow.Core.Onnx;
using DetailFlow.Core.Runtime;
using DetailFlow.Core.Tokenizer;

namespace DetailFlow.Cli.Commands;

/// <summary>
/// <c>detailflow bench decode [--backends torch,onnx] [--batches 1,8] [--runs 5] [--dtype auto] [--weights auto] [--attention auto] [--tokenizer T] [--json]</c>:
/// milliseconds per decoder call at each scheduled resolution (the longest prefix with that resolution), per backend
/// and batch size, medians of <c>--runs</c> after <c>--warmup</c> untimed calls, all in one run. Without
/// <c>--tokenizer</c> the decoder is DetailFlow-16-sized with random weights (12 × 768, N = 128, 256 px).
/// Backends: <c>torch</c> (TorchSharp modules in the precision and weight layout <c>--dtype</c> and <c>--weights</c> give,
/// by default what the service's probes pick here; with several <c>--attention</c> values one backend per value,
/// <c>torch-sdpa</c>, <c>torch-headwise</c>, …), <c>onnx</c> (the exported float32 graph on ONNX Runtime).
/// </summary>
public sealed class BenchDecodeCommand : BaseCommand
{
    private static readonly string[] Known = ["torch", "onnx"];

    private static readonly Option<string> s_backends = new("--backends") { Description = "Comma-separated backends: torch, onnx", DefaultValueFactory = _ => "torch,onnx" };
    private static readonly Option<string> s_batches = new("--batches") { Description = "Comma-separated batch sizes", DefaultValueFactory = _ => "1,8" };
    private static readonly Option<int> s_runs = new("--runs") { Description = "Timed calls per point (the median is reported)", DefaultValueFactory = _ => 5 };
    private static readonly Option<int> s_warmup = new("--warmup") { Description = "Untimed calls per point first", DefaultValueFactory = _ => 2 };
    private static readonly Option<string> s_dtype = new("--dtype") { Description = "Precision of the torch backend: auto (what ModelOptions:DType = Auto picks for the decoder here), fp32, bf16, fp16", DefaultValueFactory = _ => "auto" };
    private static readonly Option<string> s_weights = new("--weights") { Description = "Weight layout of the torch backend: auto (what ModelOptions:Weights = Auto picks here), plain, packed", DefaultValueFactory = _ => "auto" };
    private static readonly Option<string> s_attention = new("--attention") { Description = "Comma-separated attention of the torch backend: auto (what ModelOptions:DecoderAttention = Auto picks here), sdpa, headwise", DefaultValueFactory = _ => "auto" };
    private static readonly Option<FileInfo?> s_tokenizer = new("--tokenizer") { Description = "Tokenizer to decode with (default: a random DetailFlow-16-sized decoder)" };
    private static readonly Option<bool> s_json = new("--json") { Description = "Print the table as JSON" };

    public BenchDecodeCommand(IConsoleUi ui) : base("decode", "Milliseconds per decode at each scheduled resolution, per decoder backend and batch size", ui)
    {
        foreach (var o in new Option[] { s_backends, s_batches, s_runs, s_warmup, s_dtype, s_weights, s_attention, s_tokenizer, s_json })
            Options.Add(o);
    }

    protected override Task<int> ExecuteAsync(ParseResult parse, CancellationToken cancellationToken)
    {
        var backends = parse.GetValue(s_backends)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(b => b.ToLowerInvariant()).Distinct().ToArray();
        if (backends.Length == 0 || backends.Any(b => !Known.Contains(b)))
            throw new ArgumentException($"--backends: expected a comma-separated subset of {string.Join(", ", Known)}, got '{parse.GetValue(s_backends)}'");
        var batches = parse.GetValue(s_batches)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(b => int.TryParse(b, NumberStyles.None, CultureInfo.InvariantCulture, out int n) && n > 0 ? n : throw new ArgumentException($"--batches: '{b}' is not a positive integer")).Distinct().ToArray();
        int runs = parse.GetValue(s_runs), warmup = parse.GetValue(s_warmup);
        if (runs < 1) throw new ArgumentException("--runs: at least 1");
        if (warmup < 0) throw new ArgumentException("--warmup: at least 0");
        if (!ModelPrecisions.TryParse(parse.GetValue(s_dtype)!, out var precision))
            throw new ArgumentException($"--dtype: expected auto, fp32, bf16 or fp16, got '{parse.GetValue(s_dtype)}'");
        if (!WeightLayouts.TryParse(parse.GetValue(s_weights)!, out var layout))
            throw new ArgumentException($"--weights: expected auto, plain or packed, got '{parse.GetValue(s_weights)}'");
        var attentions = parse.GetValue(s_attention)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(a => Enum.TryParse<DecoderAttention>(a, ignoreCase: true, out var kind) && Enum.IsDefined(kind) && !int.TryParse(a, out _) ? kind
                : throw new ArgumentException($"--attention: expected auto, sdpa and/or headwise, got '{a}'")).Distinct().ToArray();
        if (attentions.Length == 0) throw new ArgumentException("--attention: at least one of auto, sdpa, headwise");
        int threads = TorchThreads.Current;   // --threads (global), also given to ONNX Runtime so both backends get the same

        TorchSharp.torch.manual_seed(0);
        using var vq = parse.GetValue(s_tokenizer) is { } file
            ? VqModel.Load(file.FullName, decoderOnly: true)
            : new VqModel(TokenizerPresets.DetailFlow16, decoderOnly: true);
        var schedule = ResolutionSchedule.For(vq.Config);
        var points = DecoderBenchmark.ScheduledPoints(schedule.ValidPrefixes, schedule.DecoderResolution);
        var dec = vq.Config.Dec;
        Ui.Info($"decoder {dec.NumHiddenLayers} × {dec.HiddenSize}, N = {vq.NumLatentTokens}, {points.Count} scheduled resolutions; {threads} threads; median of {runs} after {warmup} warm-up");
        var torchModels = new Dictionary<string, VqModel>();
        try
        {
            if (backends.Contains("torch"))
            {
                var (dtype, packing) = ServiceChoices(vq, precision, layout);   // once: every attention variant runs the same weights
                foreach (var attention in attentions)
                    torchModels[attentions.Length == 1 ? "torch" : "torch-" + attention.ToString().ToLowerInvariant()] =
                        AsTheServiceRuns(vq, dtype, packing, attention, schedule);
            }
            backends = backends.SelectMany(b => b == "torch" ? torchModels.Keys : (IEnumerable<string>)[b]).ToArray();
            return Task.FromResult(Report(parse, backends, batches, points, vq, torchModels, threads, warmup, runs, cancellationToken));
        }
        finally
        {
            foreach (var model in torchModels.Values) model.Dispose();
        }
    }

    private int Report(ParseResult parse, string[] backends, int[] batches, IReadOnlyList<(int T, int Resolution)> points, VqModel vq,
        Dictionary<string, VqModel> torchModels, int threads, int warmup, int runs, CancellationToken cancellationToken)
    {
        var results = Measure(backends, batches, points, vq, torchModels, threads, warmup, runs, cancellationToken);
        var rows = new List<Dictionary<string, object>>();
        foreach (int batch in batches)
            for (int i = 0; i < points.Count; i++)
            {
                var row = new Dictionary<string, object> { ["batch"] = batch, ["tokens"] = points[i].T, ["resolution"] = points[i].Resolution };
                foreach (var name in backends) row[name + "_ms"] = Math.Round(results[(name, batch)][i].MedianMs, 2);
                rows.Add(row);
            }
        if (parse.GetValue(s_json))
        {
            Ui.Line(JsonSerializer.Serialize(rows));
            return ExitCodes.Success;
        }
        PrintTable(backends, batches, rows, results);
        return ExitCodes.Success;
    }

    /// <summary>The median decode time of every (backend, batch) at every point, in point order.</summary>
    private Dictionary<(string Backend, int Batch), List<DecoderTiming>> Measure(string[] backends, int[] batches,
        IReadOnlyList<(int T, int Resolution)> points, VqModel vq, Dictionary<string, VqModel> torchModels, int threads, int warmup, int runs, CancellationToken cancellationToken)
    {
        // Interleaved (point by point, every backend in turn) so that a neighbour's load on a shared host hits the
        // backends alike; every backend's session stays open for the whole run.
        var open = backends.ToDictionary(b => b, b => torchModels.TryGetValue(b, out var model)
            ? new TorchDecoderBackend(model)
            : (IDecoderBackend)OnnxDecoderBackend.Create(vq, new OnnxDecoderSettings { IntraOpThreads = threads }));
        var results = open.Keys.SelectMany(b => batches.Select(n => (b, n))).ToDictionary(k => k, _ => new List<DecoderTiming>());
        try
        {
            Ui.Progress("decode", (long)batches.Length * points.Count, 1, report =>
            {
                int done = 0;
                foreach (int batch in batches)
                    foreach (var point in points)
                    {
                        foreach (var (name, backend) in open)
                            results[(name, batch)].AddRange(DecoderBenchmark.Run(backend, vq.Config.CodebookSize, [point], batch, warmup, runs, cancellationToken: cancellationToken));
                        // Each point as soon as it is measured: a long run stopped half-way still leaves numbers.
                        report(++done, $"batch {batch}, t {point.T}, d_t {point.Resolution}: " + string.Join(", ",
                            open.Keys.Select(b => string.Create(CultureInfo.InvariantCulture, $"{b} {results[(b, batch)][^1].MedianMs:F1} ms"))));
                    }
                return done;
            });
        }
        finally
        {
            foreach (var backend in open.Values) backend.Dispose();
        }
        return results;
    }

    /// <summary>Plain fixed-width lines (not a console table): the numbers must survive narrow or redirected output.</summary>
    private void PrintTable(string[] backends, int[] batches, List<Dictionary<string, object>> rows,
        Dictionary<(string Backend, int Batch), List<DecoderTiming>> results)
    {
        string baseline = backends[0];
        var headers = new[] { "batch", "t", "d_t" }.Concat(backends.Select(b => b + " ms"))
            .Concat(backends.Skip(1).Select(b => $"{baseline}/{b}")).ToArray();
        int width = Math.Max(8, headers.Max(h => h.Length) + 2);
        Ui.Line(string.Concat(headers.Select(h => h.PadLeft(width))));
        foreach (var r in rows)
            Ui.Line(string.Concat(new[] { r["batch"].ToString()!, r["tokens"].ToString()!, r["resolution"].ToString()! }
                .Concat(backends.Select(b => ((double)r[b + "_ms"]).ToString("F1", CultureInfo.InvariantCulture)))
                .Concat(backends.Skip(1).Select(b => ((double)r[baseline + "_ms"] / (double)r[b + "_ms"]).ToString("F2", CultureInfo.InvariantCulture)))
                .Select(c => c.PadLeft(width))));
        foreach (int batch in batches)
            foreach (var b in backends.Skip(1))
            {
                double total0 = results[(baseline, batch)].Sum(t => t.MedianMs), total1 = results[(b, batch)].Sum(t => t.MedianMs);
                Ui.Line(string.Create(CultureInfo.InvariantCulture,
                    $"batch {batch}: sum over resolutions {baseline} {total0:F0} ms, {b} {total1:F0} ms ({total0 / total1:F2}×)"));
            }
    }

    /// <summary>The decoder's precision and weight layout as given, or (<c>auto</c>) as the service's probes choose them here; reported.</summary>
    private (TorchSharp.torch.ScalarType DType, PackingChoice Packing) ServiceChoices(VqModel vq, ModelPrecision precision, WeightLayout layout)
    {
        var workload = ProbeWorkload.Decoder(vq.Config);
        var dtype = precision.ToScalarType() ?? PrecisionProbe.Choose(workload, TorchSharp.torch.CPU, TimeSpan.FromSeconds(0.6)).Chosen;
        var packing = PackingProbe.Choose(layout, workload, dtype, TorchSharp.torch.CPU, TimeSpan.FromSeconds(0.4));
        Ui.Info($"torch backend: {ModelPrecisions.ShortName(dtype)}{(precision == ModelPrecision.Auto ? " (auto)" : "")}; {packing.Describe()}");
        return (dtype, packing);
    }

    /// <summary>A copy of <paramref name="vq"/>'s decoder in that precision and layout, attending as given or (<c>auto</c>) as the service's probe chooses here; reported.</summary>
    private VqModel AsTheServiceRuns(VqModel vq, TorchSharp.torch.ScalarType dtype, PackingChoice packing, DecoderAttention attention, ResolutionSchedule schedule)
    {
        var copy = new VqModel(vq.Config, decoderOnly: true);
        copy.load_state_dict(vq.state_dict());
        copy.eval();
        copy.MoveTo(dtype);
        if (packing.Pack) PackedLinear.Pack(copy, vq.NumLatentTokens);
        var lengths = schedule.ValidPrefixes.Select(new PreviewDecoder(copy, schedule.DecoderResolution).TokensOf);
        var heads = HeadwiseProbe.Choose(attention, copy.decoder, lengths, TorchSharp.torch.CPU, TimeSpan.FromSeconds(0.4));
        copy.decoder.HeadwiseFromTokens = heads.FromTokens;
        Ui.Info($"torch backend ({attention.ToString().ToLowerInvariant()}): attention {heads.Describe()}");
        return copy;
    }
}
