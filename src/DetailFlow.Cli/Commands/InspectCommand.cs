using System.CommandLine;
using System.Text.Json;
using DetailFlow.Cli.Console;
using DetailFlow.Core.Checkpoints;

namespace DetailFlow.Cli.Commands;

/// <summary><c>detailflow inspect CKPT</c>: container layout, keys, shapes, dtypes, parameter count and config.</summary>
public sealed class InspectCommand : BaseCommand
{
    private static readonly Argument<FileInfo> s_checkpoint = new("checkpoint")
    {
        Description = "A .pt/.pth (flat or nested), .safetensors or fixture weights.json file",
    };

    private static readonly Option<CheckpointEntry> s_entry = new("--entry")
    {
        Description = "Which state dict of a nested .pt to list: Model (tokenizer rule), Ema (GPT rule), ModelModuleOrStateDict",
        DefaultValueFactory = _ => CheckpointEntry.Model,
    };

    public InspectCommand(IConsoleUi ui) : base("inspect", "List the keys, shapes, dtypes and parameter count of a checkpoint", ui)
    {
        Arguments.Add(s_checkpoint);
        Options.Add(s_entry);
    }

    protected override Task<int> ExecuteAsync(ParseResult parseResult, CancellationToken cancellationToken)
    {
        var file = parseResult.GetValue(s_checkpoint)!;
        if (!file.Exists)
        {
            Ui.Error($"checkpoint not found: {file.FullName}");
            return Task.FromResult(ExitCodes.InvalidInput);
        }
        var entry = parseResult.GetValue(s_entry);
        if (file.Extension is ".pt" or ".pth" or ".ckpt")
        {
            var (flat, keys) = CheckpointReader.Describe(file.FullName);
            Ui.Info(flat ? "container: flat state dict" : $"container: nested, top-level keys: {string.Join(", ", keys)}; listing '{entry}'");
        }
        var sd = CheckpointReader.Read(file.FullName, entry);
        try
        {
            long total = 0, inference = 0;
            var rows = new List<string[]>();
            foreach (var (key, t) in sd.OrderBy(kv => kv.Key, StringComparer.Ordinal))
            {
                total += t.numel();
                bool trainingOnly = StateDictLoader.IsTrainingOnly(key);
                if (!trainingOnly) inference += t.numel();
                rows.Add([key, $"[{string.Join(", ", t.shape)}]", t.dtype.ToString(), trainingOnly ? "training-only" : ""]);
            }
            Ui.Table(["key", "shape", "dtype", ""], rows);
            Ui.Line($"tensors: {sd.Count}, parameters: {total:N0} ({inference:N0} used at inference)");
            foreach (var name in new[] { "config.json", "config.yaml" })
                if (ConfigJson.FindBeside(file.FullName, name) is { } path)
                {
                    Ui.Info($"{name}: {path}");
                    Ui.Line(name.EndsWith(".json") ? JsonSerializer.Serialize(JsonDocument.Parse(File.ReadAllText(path)), ConfigJson.Options) : File.ReadAllText(path));
                }
            return Task.FromResult(ExitCodes.Success);
        }
        finally
        {
            foreach (var t in sd.Values) t.Dispose();
        }
    }
}
