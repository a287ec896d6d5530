using DetailFlow.Core.Gpt;
using DetailFlow.Core.Tokenizer;
using DetailFlow.Core.Imaging;
using DetailFlow.Core.Generation;
using DetailFlow.Core.Runtime;
using System.Text.Json.Nodes;
using System.Globalization;
using System.CommandLine;
using DetailFlow.Cli.Bench;
using DetailFlow.Cli.Console;

namespace DetailFlow.Cli.Commands;

/// <summary>
/// <c>detailflow bench generate [--concurrency 1,4,16] [--runs 3] [--dtype auto|fp32|bf16|fp16,...] [--weights auto|plain|packed] [--attention auto|sdpa|one-pass] [--host-rows auto|N] [--engines kv,recompute] [--json]</c>:
/// seconds per image of the KV-cached engine and the recompute sampler on a random GPT-L-sized model
/// (<see cref="GenerationBenchmark"/>).
/// </summary>
public sealed class BenchGenerateCommand : BaseCommand
{
    private static readonly Option<string> s_concurrency = new("--concurrency")
    {
        Description = "Comma-separated numbers of concurrent requests",
        DefaultValueFactory = _ => "1,4,16",
    };

    private static readonly Option<int> s_runs = new("--runs")
    {
        Description = "Timed runs per configuration (the median is reported), after one warm-up",
        DefaultValueFactory = _ => 3,
    };

    private static readonly Option<string> s_dtype = new("--dtype")
    {
        Description = "Comma-separated weight precisions: auto (what ModelOptions:DType = Auto picks on this machine), fp32, bf16, fp16",
        DefaultValueFactory = _ => "auto",
    };

    private static readonly Option<string> s_weights = new("--weights")
    {
        Description = "Weight layout: auto (what ModelOptions:Weights = Auto picks on this machine), plain, packed (oneDNN's blocked layout)",
        DefaultValueFactory = _ => "auto",
    };

    private static readonly Option<string> s_attention = new("--attention")
    {
        Description = "Cached attention: auto (what ModelOptions:Attention = Auto picks on this machine), sdpa (libtorch), one-pass (CachedAttention)",
        DefaultValueFactory = _ => "auto",
    };

    private static readonly Option<string> s_hostRows = new("--host-rows")
    {
        Description = "Up to how many rows packed bf16 products run in C#: auto (what ModelOptions:HostProductRows unset picks on this machine), 0 (oneDNN always), or N",
        DefaultValueFactory = _ => "auto",
    };

    private static readonly Option<string> s_engines = new("--engines")
    {
        Description = "Comma-separated engines: kv (KV-cached), recompute (official algorithm)",
        DefaultValueFactory = _ => "kv,recompute",
    };

    private static readonly Option<double> s_cfg = new("--cfg")
    {
        Description = "Classifier-free guidance scale (1 = none)",
        DefaultValueFactory = _ => 1.5,
    };

    private static readonly Option<int> s_layers = new("--layers")
    {
        Description = "Transformer layers of the random model (24 = GPT-L; fewer for a quick check)",
        DefaultValueFactory = _ => 24,
    };

    private static readonly Option<bool> s_json = new("--json")
    {
        Description = "Print {\"rows\":[...],\"previews\":[...],\"peak_rss_mb\":m,\"auto_dtype\":d,\"roofline\":{...}} instead of the table",
    };

    public BenchGenerateCommand(IConsoleUi ui) : base("generate", "Time KV-cached vs recompute generation on a random GPT-L-sized model", ui)
    {
        Options.Add(s_concurrency);
        Options.Add(s_runs);
        Options.Add(s_dtype);
        Options.Add(s_weights);
        Options.Add(s_attention);
        Options.Add(s_hostRows);
        Options.Add(s_engines);
        Options.Add(s_cfg);
        Options.Add(s_layers);
        Options.Add(s_json);
    }

    protected override async Task<int> ExecuteAsync(ParseResult parseResult, CancellationToken cancellationToken)
    {
        var concurrency = List(parseResult.GetValue(s_concurrency)!, s => int.TryParse(s, out int n) && n > 0 ? n : (int?)null);
        var precisions = List(parseResult.GetValue(s_dtype)!, s => ModelPrecisions.TryParse(s, out var p) ? p : (ModelPrecision?)null);
        var engines = List(parseResult.GetValue(s_engines)!, s => s switch
        {
            "kv" => BenchEngine.Kv,
            "recompute" => BenchEngine.Recompute,
            _ => (BenchEngine?)null,
        });
        WeightLayout? weights = WeightLayouts.TryParse(parseResult.GetValue(s_weights)!, out var layout) ? layout : null;
        AttentionKernel? attention = parseResult.GetValue(s_attention) switch
        {
            "auto" => AttentionKernel.Auto,
            "sdpa" => AttentionKernel.Sdpa,
            "one-pass" => AttentionKernel.OnePass,
            _ => null,
        };
        string hostRowsText = parseResult.GetValue(s_hostRows)!;
        int? hostRows = int.TryParse(hostRowsText, NumberStyles.None, CultureInfo.InvariantCulture, out int fixedRows) ? fixedRows : null;
        int runs = parseResult.GetValue(s_runs), layers = parseResult.GetValue(s_layers);
        double cfg = parseResult.GetValue(s_cfg);
        string? error =
            concurrency is null ? $"--concurrency: expected positive integers like 1,4,16, got '{parseResult.GetValue(s_concurrency)}'"
            : precisions is null ? $"--dtype: expected auto, fp32, bf16 and/or fp16, got '{parseResult.GetValue(s_dtype)}'"
            : weights is null ? $"--weights: expected auto, plain or packed, got '{parseResult.GetValue(s_weights)}'"
            : attention is null ? $"--attention: expected auto, sdpa or one-pass, got '{parseResult.GetValue(s_attention)}'"
            : hostRows is null && hostRowsText != "auto" ? $"--host-rows: expected auto or a row count ≥ 0, got '{hostRowsText}'"
            : engines is null ? $"--engines: expected kv and/or recompute, got '{parseResult.GetValue(s_engines)}'"
            : runs < 1 ? $"--runs: need at least 1, got {runs}"
            : layers < 1 ? $"--layers: need at least 1, got {layers}"
            : !double.IsFinite(cfg) || cfg < 1 ? $"--cfg: need a scale ≥ 1, got {cfg}"
            : null;
        if (error is not null)
        {
            Ui.Error(error);
            return ExitCodes.InvalidInput;
        }
        var defaults = new GenerationBenchmarkOptions();
        var options = new GenerationBenchmarkOptions
        {
            Concurrency = concurrency!,
            Runs = runs,
            Precisions = precisions!,
            Engines = engines!,
            Weights = weights!.Value,
            Attention = attention!.Value,
            HostRows = hostRows,
            CfgScale = cfg,
            Json = parseResult.GetValue(s_json),
            Model = defaults.Model with { NLayer = layers },
        };
        using var output = new ConsoleUiWriter(Ui);
        options = options with
        {
            AddPreviews = (report, ct) =>
            {
                AddDecoderTimings(report, runs, options.Json ? null : output, ct);
                return Task.CompletedTask;
            },
        };
        return await GenerationBenchmark.RunAsync(options, output, cancellationToken);
    }

    /// <summary>
    /// Decoder milliseconds per preview at each scheduled resolution of a DetailFlow-16-sized decoder (random weights,
    /// N = 128, G = 8, 256 px, patch 16): batch 1, median of <paramref name="runs"/> after one warm-up.
    /// </summary>
    private static void AddDecoderTimings(GenerationBenchmarkReport report, int runs, TextWriter? text, CancellationToken ct)
    {
        var config = TokenizerPresets.DetailFlow16;
        using var decoder = new VqModel(config, decoderOnly: true);
        var schedule = ResolutionSchedule.For(config);
        var points = DecoderBenchmark.ScheduledPoints(schedule.ValidPrefixes, schedule.DecoderResolution);
        text?.WriteLine();
        text?.WriteLine("decoder (DetailFlow-16 size, batch 1): tokens  resolution  ms (median)  ms (min)");
        foreach (var timing in DecoderBenchmark.Run(decoder, points, warmup: 1, runs: runs, cancellationToken: ct))
        {
            report.Previews.Add(new JsonObject { ["tokens"] = timing.T, ["resolution"] = timing.Resolution, ["ms"] = Math.Round(timing.MedianMs, 2) });
            text?.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{"",38}{timing.T,6}  {timing.Resolution,10}  {timing.MedianMs,11:F1}  {timing.MinMs,8:F1}"));
        }
    }

    /// <summary>Parses a comma-separated list; null when any item is invalid or the list is empty.</summary>
    private static IReadOnlyList<T>? List<T>(string text, Func<string, T?> parse) where T : struct
    {
        var items = text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(s => parse(s.ToLowerInvariant())).ToList();
        return items.Count == 0 || items.Any(i => i is null) ? null : items.Select(i => i!.Value).ToList();
    }
}
