using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using DetailFlow.Cli.Bench;
using DetailFlow.Cli.Console;

namespace DetailFlow.Cli.Commands;

/// <summary>
/// <c>detailflow bench soak --url URL --minutes M --clients N [--fault-command CMD --fault-every S] [--warmup-minutes W]
/// [--pid P] [--tokens T] [--json]</c>: an endurance run of mixed traffic against a running service on this machine
/// (<see cref="SoakRun"/>), with a fault on a schedule; reports errors, latencies per phase, refusals, streams, memory
/// and threads, and a PASS/FAIL verdict (exit code 0/1). See docs/soak.md.
/// </summary>
public sealed class BenchSoakCommand : BaseCommand
{
    private static readonly Option<Uri> s_url = ServiceUrlOption.Create();

    private static readonly Option<double> s_minutes = new("--minutes") { Description = "How long to send traffic", DefaultValueFactory = _ => 10 };
    private static readonly Option<int> s_clients = new("--clients") { Description = "Concurrent closed-loop clients", DefaultValueFactory = _ => 8 };

    private static readonly Option<string?> s_faultCommand = new("--fault-command")
    {
        Description = "Run by 'bash -c' on the schedule, e.g. 'redis-cli shutdown nosave; sleep 20; redis-server --daemonize yes'",
    };

    private static readonly Option<double?> s_faultEvery = new("--fault-every") { Description = "Seconds between fault starts (the first after this long)" };

    private static readonly Option<double?> s_warmUp = new("--warmup-minutes")
    {
        Description = "Start of the run left out of the RSS slope and the thread baseline (default: a third of the run, at most 5)",
    };

    private static readonly Option<int?> s_pid = new("--pid") { Description = "The service's process id: RSS and threads from /proc/PID/status (RSS also read every second, for the slope)" };
    private static readonly Option<int?> s_tokens = new("--tokens") { Description = "Largest detail requested (default: the model's maximum)" };
    private static readonly Option<int> s_seed = new("--seed") { Description = "Seed of the clients' choices", DefaultValueFactory = _ => 1 };
    private static readonly Option<bool> s_json = new("--json") { Description = "Print the report as one JSON object (no progress lines)" };

    public BenchSoakCommand(IConsoleUi ui) : base("soak", "Endurance run of mixed traffic (with faults) against a running DetailFlow service", ui)
    {
        foreach (var option in new Option[] { s_url, s_minutes, s_clients, s_faultCommand, s_faultEvery, s_warmUp, s_pid, s_tokens, s_seed, s_json })
            Options.Add(option);
    }

    protected override async Task<int> ExecuteAsync(ParseResult parseResult, CancellationToken cancellationToken)
    {
        bool json = parseResult.GetValue(s_json);
        SoakOptions options;
        try
        {
            options = ReadOptions(parseResult);
            options.Validate();
        }
        catch (ArgumentException e)
        {
            Ui.Error(e.Message);
            return ExitCodes.InvalidInput;
        }
        if (!json)
            Ui.Info($"{options.Clients} client(s) for {F(options.Duration.TotalMinutes, "0.##")} min against {options.Url}, warm-up {F(options.WarmUp.TotalMinutes, "0.##")} min" +
                (options.FaultCommand is { } c ? $", fault every {F(options.FaultEvery!.Value.TotalSeconds, "0.#")} s: {c}" : ", no faults"));
        SoakReport report;
        try
        {
            report = await SoakRun.RunAsync(options, json ? null : ShowSample, cancellationToken);
        }
        catch (Exception e) when (e is HttpRequestException or InvalidOperationException or JsonException
            || (e is OperationCanceledException && !cancellationToken.IsCancellationRequested))   // a start-up request timed out
        {
            Ui.Error(e.Message);
            return ExitCodes.CheckFailed;
        }
        if (json) Ui.Line(JsonSerializer.Serialize(report, SoakReport.JsonOptions));
        else new SoakReportView(Ui).Show(report);
        return report.Pass ? ExitCodes.Success : ExitCodes.CheckFailed;
    }

    private static SoakOptions ReadOptions(ParseResult p)
    {
        var duration = TimeSpan.FromMinutes(p.GetValue(s_minutes));
        if (duration <= TimeSpan.Zero) throw new ArgumentException($"--minutes {duration.TotalMinutes}: must be positive");
        return new SoakOptions(p.GetValue(s_url)!, duration, p.GetValue(s_clients))
        {
            FaultCommand = p.GetValue(s_faultCommand),
            FaultEvery = p.GetValue(s_faultEvery) is { } every ? TimeSpan.FromSeconds(every) : null,
            WarmUp = p.GetValue(s_warmUp) is { } w ? TimeSpan.FromMinutes(w) : SoakOptions.DefaultWarmUp(duration),
            Pid = p.GetValue(s_pid), Tokens = p.GetValue(s_tokens), Seed = p.GetValue(s_seed),
        };
    }

    private void ShowSample(SoakSample s) => Ui.Info(SoakReportView.SampleLine(s));

    private static string F(double v, string format) => v.ToString(format, CultureInfo.InvariantCulture);
}
