using System.CommandLine;
using DetailFlow.Cli.Console;
using DetailFlow.Core.Tokenizer;
using DetailFlow.Training;
using DetailFlow.Training.Checkpointing;
using DetailFlow.Training.Data;
using DetailFlow.Training.Tokenizer;

namespace DetailFlow.Cli.Commands;

/// <summary>
/// <c>detailflow train-tokenizer</c>: the tokenizer training of spec §9.1 on an image folder or an IDX set, into a run
/// folder in the official checkpoint layout. Ctrl+C finishes the current step, writes a checkpoint and exits (130).
/// </summary>
public sealed class TrainTokenizerCommand : BaseCommand
{
    private static readonly Option<FileInfo?> s_modelConfig = new("--model-config") { Description = "Tokenizer config.json (ModelArgs names; default: the small 32×32 config of SmallConfigs.Tokenizer)" };
    private static readonly Option<long?> s_warmup = new("--warmup-steps") { Description = "Linear warm-up steps (default 100; official: one epoch)" };
    private static readonly Option<double?> s_degradation = new("--degradation-prob") { Description = "Probability of a resolution-degraded step (default 0.2)" };
    private static readonly Option<bool> s_noCorrection = new("--no-correction") { Description = "Disable self-correction training (noisy codes + refined tokens)" };
    private static readonly Option<bool> s_codebookFromData = new("--codebook-from-data") { Description = "Start the codebook from first-batch encoder outputs (keeps small models from collapsing onto one code)" };
    private static readonly Option<FileInfo?> s_perceptual = new("--perceptual-model") { Description = "LPIPS-VGG state dict (.pt/.safetensors; keys net.slice*, lin*.model.1.weight) — enables the perceptual loss" };
    private static readonly Option<double?> s_perceptualWeight = new("--perceptual-weight") { Description = "Perceptual loss weight (default 1.0)" };
    private static readonly Option<long?> s_perceptualWarmup = new("--perceptual-warmup") { Description = "Steps over which the perceptual weight ramps from 0 (default 10000)" };
    private static readonly Option<double?> s_discWeight = new("--disc-weight") { Description = "Hinge GAN weight (PatchGAN discriminator); 0 = off (default; official 0.2)" };
    private static readonly Option<long?> s_discStart = new("--disc-start") { Description = "First step with the adversarial losses (default 40000)" };
    private static readonly Option<int?> s_prefetch = new("--prefetch") { Description = "Batches prepared ahead of the training step (default 4)" };

    public TrainTokenizerCommand(IConsoleUi ui) : base("train-tokenizer", "Train a DetailFlow tokenizer (resolution degradation, self-correction, VQ)", ui)
    {
        foreach (var o in TrainingCommandOptions.Common.Concat(DataSourceOptions.All).Concat(new Option[]
                 { s_modelConfig, s_warmup, s_degradation, s_noCorrection, s_codebookFromData, s_perceptual, s_perceptualWeight,
                   s_perceptualWarmup, s_discWeight, s_discStart, s_prefetch }))
            Options.Add(o);
    }

    protected override Task<int> ExecuteAsync(ParseResult parse, CancellationToken cancellationToken)
    {
        var config = parse.GetValue(s_modelConfig) is { } file ? TokenizerConfig.Load(file.FullName) : SmallConfigs.Tokenizer;
        var (source, isIdx) = DataSourceOptions.Open(parse);
        var defaults = new TokenizerTrainingOptions();
        var options = TrainingCommandOptions.Shared(parse, defaults with
        {
            WarmupSteps = parse.GetValue(s_warmup) ?? defaults.WarmupSteps,
            DegradationProb = parse.GetValue(s_degradation) ?? defaults.DegradationProb,
            CorrectionTraining = !parse.GetValue(s_noCorrection),
            CodebookFromData = parse.GetValue(s_codebookFromData),
            PerceptualModel = parse.GetValue(s_perceptual)?.FullName,
            PerceptualWeight = parse.GetValue(s_perceptualWeight) ?? defaults.PerceptualWeight,
            PerceptualWarmup = parse.GetValue(s_perceptualWarmup) ?? defaults.PerceptualWarmup,
            DiscWeight = parse.GetValue(s_discWeight) ?? defaults.DiscWeight,
            DiscStart = parse.GetValue(s_discStart) ?? defaults.DiscStart,
            Prefetch = parse.GetValue(s_prefetch) ?? defaults.Prefetch,
        });
        string runDir = parse.GetValue(TrainingCommandOptions.Out)!.FullName;
        var augmentation = isIdx ? AugmentationKind.Flip : AugmentationKind.RandomCropFlip;
        string? latest = parse.GetValue(TrainingCommandOptions.Resume) ? TrainingCheckpoint.Latest(runDir) : null;
        if (parse.GetValue(TrainingCommandOptions.Resume) && latest is null) Ui.Info($"no checkpoint in {runDir}: starting a new run");
        using var trainer = latest is null
            ? TokenizerTrainer.Create(config, source, augmentation, options, runDir)
            : TokenizerTrainer.Resume(TokenizerConfig.Load(Path.Combine(runDir, "config.json")), source, augmentation, options, runDir, latest);
        Ui.Info($"tokenizer N {trainer.Config.NumLatentTokens}, G {trainer.Config.GroupSize}, {trainer.Config.ImageSize}², codebook {trainer.Config.CodebookSize}; {source.Count} images, {source.ClassNames.Count} classes; "
                + (latest is null ? "new run" : $"resumed at step {trainer.Step} from {latest}"));
        int code = TrainingCommandOptions.Run(Ui, "tokenizer", trainer, parse.GetValue(TrainingCommandOptions.CheckpointEvery), cancellationToken,
            () => trainer.Skipped.Count > 0 ? $" skipped {trainer.Skipped.Count}" : "");
        foreach (var s in trainer.Skipped) Ui.Info($"skipped {s.Name}: {s.Reason}");
        return Task.FromResult(code);
    }
}
