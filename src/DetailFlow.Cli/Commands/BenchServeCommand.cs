using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using DetailFlow.Cli.Bench;
using DetailFlow.Cli.Console;

namespace DetailFlow.Cli.Commands;

/// <summary>
/// <c>detailflow bench serve --url URL [--clients N] [--seconds S] [--stream] [--tokens T] [--json]</c>: load on a running
/// DetailFlow.Api on this machine (<see cref="ServeBenchmark"/>): images/s, p50/p95 latency, time to first preview, errors.
/// With <c>--probe K</c>: K requests on the idle service vs K arriving while N background clients keep a batch
/// mid-flight (<see cref="ServeProbe"/>): medians and their ratio.
/// </summary>
public sealed class BenchServeCommand : BaseCommand
{
    private static readonly Option<Uri> s_url = ServiceUrlOption.Create();

    private static readonly Option<int> s_clients = new("--clients")
    {
        Description = "Concurrent closed-loop clients (each sends its next request when the previous one ends)",
        DefaultValueFactory = _ => 1,
    };

    private static readonly Option<double> s_seconds = new("--seconds")
    {
        Description = "How long to send requests (requests in flight at the end still finish and count)",
        DefaultValueFactory = _ => 10,
    };

    private static readonly Option<bool> s_stream = new("--stream")
    {
        Description = "Use POST /v1/generate/stream (SSE, default previews) and report the time to the first preview",
    };

    private static readonly Option<int?> s_tokens = new("--tokens") { Description = "Detail per image (default: the model's maximum)" };

    private static readonly Option<long> s_class = new("--class") { Description = "Class id to generate", DefaultValueFactory = _ => 0 };

    private static readonly Option<bool> s_json = new("--json") { Description = "Print the report as one JSON object" };

    private static readonly Option<FileInfo?> s_roofline = new("--roofline")
    {
        Description = "JSON of `bench roofline --json` for the served model: also print the result as a fraction of its floor",
    };

    private static readonly Option<int?> s_probe = new("--probe")
    {
        Description = "Mid-flight probe: K requests on the idle service, then K while --clients background clients keep a batch " +
            "mid-flight; prints both medians and their ratio (--seconds and --stream are not used)",
    };

    public BenchServeCommand(IConsoleUi ui) : base("serve", "Load-test a running DetailFlow service on this machine", ui)
    {
        Options.Add(s_url);
        Options.Add(s_clients);
        Options.Add(s_seconds);
        Options.Add(s_stream);
        Options.Add(s_tokens);
        Options.Add(s_class);
        Options.Add(s_json);
        Options.Add(s_probe);
        Options.Add(s_roofline);
    }

    protected override async Task<int> ExecuteAsync(ParseResult parseResult, CancellationToken cancellationToken)
    {
        var options = new ServeBenchmarkOptions(parseResult.GetValue(s_url)!, parseResult.GetValue(s_clients),
            TimeSpan.FromSeconds(parseResult.GetValue(s_seconds)), parseResult.GetValue(s_stream), parseResult.GetValue(s_tokens),
            parseResult.GetValue(s_class), FirstSeed: Random.Shared.NextInt64(0, 1L << 40));
        bool json = parseResult.GetValue(s_json);
        try
        {
            options.Validate();
        }
        catch (ArgumentException e)
        {
            Ui.Error(e.Message);
            return ExitCodes.InvalidInput;
        }
        RooflineFloor? floor = null;
        if (parseResult.GetValue(s_roofline) is { } rooflineFile)
        {
            try { floor = JsonSerializer.Deserialize<RooflineDocument>(File.ReadAllText(rooflineFile.FullName))?.Floor; }
            catch (Exception e) when (e is IOException or JsonException or UnauthorizedAccessException) { Ui.Error($"--roofline {rooflineFile.FullName}: {e.Message}"); }
            if (floor is null) return ExitCodes.InvalidInput;
        }
        if (parseResult.GetValue(s_probe) is { } probes) return await ProbeAsync(options, probes, json, cancellationToken);
        if (!json)
            Ui.Info($"{options.Clients} client(s), {options.Duration.TotalSeconds:0.#} s, {(options.Stream ? "streamed" : "plain")} requests against {options.Url}");
        ServeBenchmarkReport report;
        try
        {
            report = await ServeBenchmark.RunAsync(options, cancellationToken);
        }
        catch (Exception e) when (e is HttpRequestException or InvalidOperationException)
        {
            Ui.Error(e.Message);
            return ExitCodes.CheckFailed;
        }
        var fraction = floor is null ? null : FloorFraction(report, floor);
        if (json)
        {
            var node = System.Text.Json.Nodes.JsonNode.Parse(JsonSerializer.Serialize(report))!;
            if (fraction is { } f) { node["floor_seconds_per_image"] = f.Floor; node["floor_fraction"] = f.Fraction; }
            Ui.Line(node.ToJsonString());
        }
        else Show(report, fraction);
        return report.Completed > 0 ? ExitCodes.Success : ExitCodes.CheckFailed;
    }

    private async Task<int> ProbeAsync(ServeBenchmarkOptions options, int probes, bool json, CancellationToken cancellationToken)
    {
        if (probes < 1)
        {
            Ui.Error($"--probe {probes}: need at least 1 probe");
            return ExitCodes.InvalidInput;
        }
        if (!json)
            Ui.Info($"{probes} probe(s) on the idle service, then {probes} beside {options.Clients} background client(s), against {options.Url}");
        ServeProbeReport report;
        try
        {
            report = await ServeProbe.RunAsync(options, probes, cancellationToken);
        }
        catch (Exception e) when (e is HttpRequestException or InvalidOperationException)
        {
            Ui.Error(e.Message);
            return ExitCodes.CheckFailed;
        }
        if (json)
        {
            Ui.Line(JsonSerializer.Serialize(report));
            return ExitCodes.Success;
        }
        static string F(double v, string format) => v.ToString(format, CultureInfo.InvariantCulture);
        Ui.Table(["metric", "value"],
        [
            ["idle latency p50", F(report.IdleP50Ms, "0.0") + " ms"],
            [$"mid-flight latency p50 ({report.BackgroundClients} background)", F(report.MidFlightP50Ms, "0.0") + " ms"],
            ["ratio mid-flight / idle", F(report.Ratio, "0.00") + "×"],
            ["background throughput while probing", F(report.BackgroundImagesPerSecond, "0.00") + " images/s"],
            ["idle probes", string.Join(", ", report.IdleMs.Select(v => F(v, "0")))],
            ["mid-flight probes", string.Join(", ", report.MidFlightMs.Select(v => F(v, "0")))],
            ["load average (1 min)", report.LoadAverage is { } load ? F(load, "0.00") : "—"],
        ]);
        return ExitCodes.Success;
    }

    /// <summary>
    /// One client: the floor at one request ÷ the p50 latency. More: the floor per image at that many requests ÷ the
    /// measured seconds per image (1 / throughput). Decode included (the service decodes every image).
    /// </summary>
    private static (double Floor, double Fraction)? FloorFraction(ServeBenchmarkReport r, RooflineFloor floor)
    {
        if (r.Clients == 1)
            return r.LatencyP50Ms is { } p50 ? (floor.SingleSeconds, RooflineFloor.Fraction(floor.SingleSeconds, p50 / 1000)) : null;
        double perImage = floor.SecondsPerImage(r.Clients);
        return r.ImagesPerSecond > 0 ? (perImage, RooflineFloor.Fraction(perImage, 1 / r.ImagesPerSecond)) : null;
    }

    private void Show(ServeBenchmarkReport r, (double Floor, double Fraction)? fraction)
    {
        static string Ms(double? v) => v is { } x ? x.ToString("0.0", CultureInfo.InvariantCulture) + " ms" : "—";
        var rows = new List<string[]>
        {
            new[] { "requests (ok / errors)", $"{r.Requests} ({r.Completed} / {r.Errors})" },
            new[] { "throughput", r.ImagesPerSecond.ToString("0.00", CultureInfo.InvariantCulture) + " images/s" },
            new[] { "latency p50", Ms(r.LatencyP50Ms) },
            new[] { "latency p95", Ms(r.LatencyP95Ms) },
        };
        if (r.Stream)
        {
            rows.Add(["first preview p50", Ms(r.FirstPreviewP50Ms)]);
            rows.Add(["first preview p95", Ms(r.FirstPreviewP95Ms)]);
        }
        rows.AddRange(r.ErrorKinds.Select(kv => new[] { $"error: {kv.Key}", kv.Value.ToString(CultureInfo.InvariantCulture) }));
        if (fraction is { } f)
            rows.Add([r.Clients == 1 ? "fraction of the floor (floor ÷ p50)" : "fraction of the floor (floor ÷ s/image)",
                $"{f.Fraction.ToString("0.00", CultureInfo.InvariantCulture)} (floor {f.Floor.ToString("0.000", CultureInfo.InvariantCulture)} s/image)"]);
        Ui.Table(["metric", "value"], rows);
    }
}
