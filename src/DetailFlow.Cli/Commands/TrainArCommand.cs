using System.CommandLine;
using DetailFlow.Cli.Console;
using DetailFlow.Core.Checkpoints;
using DetailFlow.Core.Gpt;
using DetailFlow.Training;
using DetailFlow.Training.Checkpointing;
using DetailFlow.Training.Data;
using DetailFlow.Training.Gpt;

namespace DetailFlow.Cli.Commands;

/// <summary>
/// <c>detailflow train-ar</c> (official <c>train_c2i.py</c>, spec §9.3): the class-conditional GPT on a code folder of
/// <c>extract-codes</c>, into a run folder whose checkpoints <c>GptTransformer.Load</c> and <c>sample</c> read.
/// </summary>
public sealed class TrainArCommand : BaseCommand
{
    private static readonly Option<DirectoryInfo> s_codes = new("--codes") { Description = "Code folder written by extract-codes", Required = true };
    private static readonly Option<string> s_dataset = new("--dataset") { Description = "Dataset name of the code files", DefaultValueFactory = _ => "imagenet" };
    private static readonly Option<string?> s_gptModel = new("--gpt-model") { Description = $"Size preset ({string.Join(", ", GptConfig.Presets.Keys)}); default: the small config (4 layers × 128)" };
    private static readonly Option<FileInfo?> s_modelConfig = new("--model-config") { Description = "GPT config.json for the size and dropouts (vocabulary, block and group sizes always come from the codes)" };
    private static readonly Option<int?> s_numClasses = new("--num-classes") { Description = "Class count of the label table (default: the size config's, at least the codes')" };
    private static readonly Option<double?> s_weightDecay = new("--weight-decay") { Description = "AdamW decay on ≥ 2-D tensors (default 0.05)" };
    private static readonly Option<double?> s_warmupRatio = new("--warmup-ratio") { Description = "Share of steps spent warming up (default 0.05)" };
    private static readonly Option<double?> s_correctionProb = new("--correction-prob") { Description = "Share of self-correction sequences (default 0.3)" };

    public TrainArCommand(IConsoleUi ui) : base("train-ar", "Train the class-conditional GPT on extracted codes", ui)
    {
        foreach (var o in TrainingCommandOptions.Common.Concat(new Option[] { s_codes, s_dataset, s_gptModel, s_modelConfig, s_numClasses, s_weightDecay, s_warmupRatio, s_correctionProb }))
            Options.Add(o);
    }

    protected override Task<int> ExecuteAsync(ParseResult parse, CancellationToken cancellationToken)
    {
        var codes = CodeDataset.Open(parse.GetValue(s_codes)!.FullName, parse.GetValue(s_dataset)!);
        var preset = parse.GetValue(s_gptModel);
        // Official ModelArgs defaults under a preset (multiple_of 256 → GPT-L FFN 2816); the small config otherwise.
        var size = parse.GetValue(s_modelConfig) is { } file ? GptConfig.Load(file.FullName) : preset is null ? SmallConfigs.Gpt : new GptConfig();
        if (preset is not null) size = size.WithPreset(preset);
        size = size with { NumClasses = parse.GetValue(s_numClasses) ?? Math.Max(size.NumClasses, codes.ClassCount) };
        var config = codes.ShapeGpt(size);
        var defaults = new GptTrainingOptions();
        var options = TrainingCommandOptions.Shared(parse, defaults with
        {
            WeightDecay = parse.GetValue(s_weightDecay) ?? defaults.WeightDecay,
            WarmupRatio = parse.GetValue(s_warmupRatio) ?? defaults.WarmupRatio,
            CorrectionProb = parse.GetValue(s_correctionProb) ?? defaults.CorrectionProb,
        });
        string runDir = parse.GetValue(TrainingCommandOptions.Out)!.FullName;
        string? latest = parse.GetValue(TrainingCommandOptions.Resume) ? TrainingCheckpoint.Latest(runDir) : null;
        if (parse.GetValue(TrainingCommandOptions.Resume) && latest is null) Ui.Info($"no checkpoint in {runDir}: starting a new run");
        using var trainer = latest is null
            ? GptTrainer.Create(config, codes, options, runDir)
            : GptTrainer.Resume(RunConfig(runDir), codes, options, runDir, latest);
        Ui.Info($"{config}; {trainer.Model.ParameterCount:N0} parameters; {codes.Count} images × {codes.Augmentations} crops; "
                + (latest is null ? "new run" : $"resumed at step {trainer.Step} from {latest}"));
        return Task.FromResult(TrainingCommandOptions.Run(Ui, "gpt", trainer, parse.GetValue(TrainingCommandOptions.CheckpointEvery), cancellationToken));
    }

    /// <summary>A resumed run keeps the architecture it was created with (its config.json), whatever the size options say.</summary>
    private static GptConfig RunConfig(string runDir)
    {
        string json = Path.Combine(runDir, "config.json");
        return GptConfig.Load(json, ConfigJson.OfficialYamlFor(json));
    }
}
