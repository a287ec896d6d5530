using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using DetailFlow.Cli.Bench;
using DetailFlow.Cli.Console;
using DetailFlow.Core.Gpt;

namespace DetailFlow.Cli.Commands;

/// <summary>
/// <c>detailflow bench midflight --preset tiny|mid|gpt-l [--background 1,3] [--probes K] [--threads T] [--json]</c>: the
/// engine-only mid-flight probe (<see cref="MidFlightBenchmark"/>) on a random GPT of a <see cref="RandomModelPreset"/>.
/// </summary>
public sealed class BenchMidFlightCommand : BaseCommand
{
    private static readonly Option<string> s_preset = new("--preset")
    {
        Description = "GPT size: " + string.Join(", ", RandomModelPreset.All.Select(p => p.Name)), DefaultValueFactory = _ => "mid",
    };

    private static readonly Option<string> s_background = new("--background")
    {
        Description = "Comma-separated numbers of background requests kept mid-flight", DefaultValueFactory = _ => "1,3",
    };

    private static readonly Option<int> s_probes = new("--probes") { Description = "Probes (each runs on the idle and the busy engine)", DefaultValueFactory = _ => 5 };

    private static readonly Option<double> s_cfg = new("--cfg") { Description = "CFG scale (> 1: two cache rows per request)", DefaultValueFactory = _ => 1.5 };

    private static readonly Option<bool> s_json = new("--json") { Description = "One JSON object per background count" };

    public BenchMidFlightCommand(IConsoleUi ui)
        : base("midflight", "Engine only: latency of a request joining a batch mid-flight vs on an idle engine", ui)
    {
        Options.Add(s_preset);
        Options.Add(s_background);
        Options.Add(s_probes);
        Options.Add(s_cfg);
        Options.Add(s_json);
    }

    protected override Task<int> ExecuteAsync(ParseResult parseResult, CancellationToken cancellationToken)
    {
        string name = parseResult.GetValue(s_preset)!;
        var counts = parseResult.GetValue(s_background)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(s => int.TryParse(s, CultureInfo.InvariantCulture, out int n) && n >= 1 && n <= 64 ? n : -1).ToArray();
        int probes = parseResult.GetValue(s_probes);
        double cfg = parseResult.GetValue(s_cfg);
        string? error = RandomModelPreset.Find(name) is null ? $"--preset '{name}': expected one of {string.Join(", ", RandomModelPreset.All.Select(p => p.Name))}"
            : counts.Length == 0 || counts.Contains(-1) ? $"--background '{parseResult.GetValue(s_background)}': expected numbers in 1..64"
            : probes < 1 ? $"--probes {probes}: need at least 1"
            : !double.IsFinite(cfg) || cfg <= 1 ? $"--cfg {cfg}: need a scale > 1"
            : null;
        if (error is not null)
        {
            Ui.Error(error);
            return Task.FromResult(ExitCodes.InvalidInput);
        }
        var preset = RandomModelPreset.Find(name)!;
        TorchSharp.torch.manual_seed(0);
        using var model = new GptTransformer(preset.Gpt);
        bool json = parseResult.GetValue(s_json);
        foreach (int background in counts)
        {
            var r = MidFlightBenchmark.Run(model, preset.Name, background, probes, cfg, cancellationToken);
            if (json)
            {
                Ui.Line(JsonSerializer.Serialize(r));
                continue;
            }
            static string F(double v) => v.ToString("0.0", CultureInfo.InvariantCulture);
            Ui.Line(string.Create(CultureInfo.InvariantCulture,
                $"{r.Model} ({r.Parameters:N0} parameters), {r.Background} background, {r.Probes} probes, {r.TorchThreads} thread(s): " +
                $"idle {F(r.IdleP50Ms)} ms; mid-flight {F(r.MidFlightP50Ms)} ms ({r.MidFlightRatio:0.00}×, {r.PackedSteps} packed steps); " +
                $"probes whose codes differ from the idle run: {r.ProbesWithOtherCodes} of {r.Probes}; load {r.LoadAverage:0.0}"));
        }
        return Task.FromResult(ExitCodes.Success);
    }
}
