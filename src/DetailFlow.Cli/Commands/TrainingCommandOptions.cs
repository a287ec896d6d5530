using System.CommandLine;
using System.Globalization;
using DetailFlow.Cli.Console;
using DetailFlow.Training;
using TorchSharp;

namespace DetailFlow.Cli.Commands;

/// <summary>Options and the run loop the training commands share (config file, run folder, resume, progress).</summary>
internal static class TrainingCommandOptions
{
    public static readonly Option<FileInfo?> Config = new(ConfigFileArguments.Option)
    {
        Description = "YAML or JSON file of option: value pairs (keys = long option names without --); command-line options override it",
    };
    public static readonly Option<DirectoryInfo> Out = new("--out") { Description = "Run folder: config.json, config.yaml, checkpoints/<step>.pt", Required = true };
    public static readonly Option<long> Steps = new("--steps") { Description = "Total optimisation steps of the run", DefaultValueFactory = _ => 1000 };
    public static readonly Option<int> BatchSize = new("--batch-size") { Description = "Images (or code sequences) per step", DefaultValueFactory = _ => 32 };
    public static readonly Option<int> Seed = new("--seed") { Description = "Seed of every random stream (data order, augmentation, noise, dropout)", DefaultValueFactory = _ => 0 };
    public static readonly Option<long> CheckpointEvery = new("--checkpoint-every") { Description = "Steps between checkpoints (one is always written at the end and on Ctrl+C)", DefaultValueFactory = _ => 500 };
    public static readonly Option<int> KeepLast = new("--keep-last") { Description = "Checkpoints kept in <out>/checkpoints (older ones are deleted)", DefaultValueFactory = _ => 3 };
    public static readonly Option<bool> Resume = new("--resume") { Description = "Continue from the newest checkpoint in --out (step, weights, optimizer, EMA, schedule, data order)" };
    public static readonly Option<bool> Ema = new("--ema") { Description = "Keep an exponential moving average of the weights (checkpoint key 'ema')" };
    public static readonly Option<double?> EmaDecay = new("--ema-decay") { Description = "EMA decay per step (default 0.9999)" };
    public static readonly Option<double?> Lr = new("--lr") { Description = "Peak learning rate (default 1e-4)" };
    public static readonly Option<double?> MaxGradNorm = new("--max-grad-norm") { Description = "Gradient clipping norm, 0 = off (default 1.0)" };

    public static IEnumerable<Option> Common => [Config, Out, Steps, BatchSize, Seed, CheckpointEvery, KeepLast, Resume, Ema, EmaDecay, Lr, MaxGradNorm];

    /// <summary><paramref name="options"/> with the shared options that were given on the command line or in the config file.</summary>
    public static T Shared<T>(ParseResult parse, T options) where T : TrainingRunOptions => (T)((TrainingRunOptions)options with
    {
        BatchSize = parse.GetValue(BatchSize),
        TotalSteps = parse.GetValue(Steps),
        Seed = parse.GetValue(Seed),
        KeepLast = parse.GetValue(KeepLast),
        Ema = parse.GetValue(Ema),
        EmaDecay = parse.GetValue(EmaDecay) ?? options.EmaDecay,
        Lr = parse.GetValue(Lr) ?? options.Lr,
        MaxGradNorm = parse.GetValue(MaxGradNorm) ?? options.MaxGradNorm,
    });

    /// <summary>Runs the trainer under a progress bar; reports the outcome and returns the exit code.</summary>
    public static int Run(IConsoleUi ui, string title, ITrainer trainer, long checkpointEvery, CancellationToken cancellationToken,
        Func<string>? extraStatus = null)
    {
        long start = trainer.Step;
        long peakRss = 0;
        var result = ui.Progress(title, trainer.TotalSteps, plainEvery: Math.Max(1, checkpointEvery / 10), report =>
            TrainingRunner.Run(trainer, checkpointEvery, p =>
            {
                peakRss = Math.Max(peakRss, Environment.WorkingSet);
                string parts = string.Join(" ", p.Parts.Select(kv => string.Create(CultureInfo.InvariantCulture, $"{kv.Key} {kv.Value:F4}")));
                report(p.Step, string.Create(CultureInfo.InvariantCulture,
                    $"loss {p.Loss:F4} ({parts}) lr {p.LearningRate:E2} {p.StepsPerSecond:F2} steps/s ETA {p.Eta:hh\\:mm\\:ss}{extraStatus?.Invoke()}"));
            }, cancellationToken));
        string rate = result.Losses.Count > 0 ? string.Create(CultureInfo.InvariantCulture, $", last loss {result.Losses[^1]:F4}") : "";
        ui.Info(string.Create(CultureInfo.InvariantCulture, $"peak RSS {peakRss / (1024.0 * 1024):F0} MiB"));
        if (result.Cancelled)
        {
            ui.Info($"stopped at step {result.FinalStep} (from {start}){rate}; checkpoint {result.LastCheckpoint ?? "none (no step completed)"}; continue with --resume");
            return ExitCodes.Cancelled;
        }
        ui.Success($"finished step {result.FinalStep}{rate}; checkpoint {result.LastCheckpoint}");
        return ExitCodes.Success;
    }
}
