using System.CommandLine;
using System.Globalization;
using DetailFlow.Cli.Bench;
using DetailFlow.Cli.Console;

namespace DetailFlow.Cli.Commands;

/// <summary>
/// <c>detailflow bench model --preset tiny|mid|gpt-l --out DIR [--seed S]</c>: writes a randomly initialised GPT +
/// decoder-only tokenizer (<see cref="RandomModelPreset"/>) for <c>bench serve</c>; serve it with
/// <c>ModelOptions__GptPath=DIR/gpt.safetensors ModelOptions__TokenizerPath=DIR/tokenizer.safetensors</c>.
/// </summary>
public sealed class BenchModelCommand : BaseCommand
{
    private static readonly Option<string> s_preset = new("--preset")
    {
        Description = "Model size: " + string.Join(", ", RandomModelPreset.All.Select(p => p.Name)),
        Required = true,
    };

    private static readonly Option<string> s_out = new("--out") { Description = "Output folder (keep it under runs/: weights are never committed)", Required = true };

    private static readonly Option<int> s_seed = new("--seed") { Description = "Seed of the random weights", DefaultValueFactory = _ => 0 };

    public BenchModelCommand(IConsoleUi ui) : base("model", "Write a random model (GPT + decoder-only tokenizer) to serve in benchmarks", ui)
    {
        Options.Add(s_preset);
        Options.Add(s_out);
        Options.Add(s_seed);
    }

    protected override Task<int> ExecuteAsync(ParseResult parseResult, CancellationToken cancellationToken)
    {
        string name = parseResult.GetValue(s_preset)!;
        if (RandomModelPreset.Find(name) is not { } preset)
        {
            Ui.Error($"--preset '{name}': expected one of {string.Join(", ", RandomModelPreset.All.Select(p => p.Name))}");
            return Task.FromResult(ExitCodes.InvalidInput);
        }
        string outDir = Path.GetFullPath(parseResult.GetValue(s_out)!);
        var (gpt, tokenizer) = preset.Write(outDir, parseResult.GetValue(s_seed));
        foreach (var file in new[] { gpt, tokenizer })
            Ui.Line(string.Create(CultureInfo.InvariantCulture, $"{file.WeightsPath}: {file.Tensors} tensors, {file.Parameters:N0} parameters"));
        Ui.Line($"serve with: ModelOptions__GptPath={gpt.WeightsPath} ModelOptions__TokenizerPath={tokenizer.WeightsPath}");
        return Task.FromResult(ExitCodes.Success);
    }
}
