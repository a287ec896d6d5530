using DetailFlow.Core.Runtime;
namespace DetailFlow.Training;

/// <summary>What a trainer reports after each step (the CLI renders it as a progress bar).</summary>
public sealed record TrainingProgress(long Step, long TotalSteps, double Loss, double LearningRate, double StepsPerSecond,
    TimeSpan Elapsed, IReadOnlyDictionary<string, double> Parts)
{
    public TimeSpan? Eta => StepsPerSecond > 0 ? TimeSpan.FromSeconds((TotalSteps - Step) / StepsPerSecond) : null;
}

/// <summary>One optimisation step's losses: the total and its named parts.</summary>
public sealed record StepLoss(double Total, IReadOnlyDictionary<string, double> Parts);

/// <summary>A trainer the <see cref="TrainingRunner"/> drives.</summary>
public interface ITrainer
{
    /// <summary>Steps completed (the next step to run).</summary>
    long Step { get; }

    long TotalSteps { get; }

    double LearningRate { get; }

    /// <summary>One whole optimisation step; it does not observe cancellation (the runner stops between steps).</summary>
    StepLoss TrainStep();

    /// <summary>Writes a checkpoint for <see cref="Step"/> and returns its path.</summary>
    string SaveCheckpoint();
}

/// <summary>
/// The loop shared by both trainers: steps until the total, a checkpoint every <c>checkpointEvery</c> steps and at
/// the end, progress after every step; on cancellation (Ctrl+C) the current step finishes, a checkpoint is written
/// and the run returns normally so it can be resumed exactly. Memory stays flat over long runs: the step's guard
/// (<see cref="ScalarGcGuard"/>) collects the managed garbage of earlier steps between steps, and a
/// <see cref="NativeHeapTrimmer"/> returns the free native heap that libtorch's aligned allocations leave behind on
/// glibc &lt; 2.38.
/// </summary>
public static class TrainingRunner
{
    public sealed record Result(long FinalStep, bool Cancelled, string? LastCheckpoint, IReadOnlyList<double> Losses);

    public static Result Run(ITrainer trainer, long checkpointEvery, Action<TrainingProgress>? progress, CancellationToken cancellationToken,
        NativeHeapTrimmer? nativeHeap = null)
    {
        ArgumentNullException.ThrowIfNull(trainer);
        if (checkpointEvery < 1) throw new ArgumentOutOfRangeException(nameof(checkpointEvery), checkpointEvery, "checkpoint interval must be positive");
        var watch = System.Diagnostics.Stopwatch.StartNew();
        long first = trainer.Step;
        string? last = null;
        var losses = new List<double>();
        nativeHeap ??= new NativeHeapTrimmer();
        while (trainer.Step < trainer.TotalSteps && !cancellationToken.IsCancellationRequested)
        {
            double lr = trainer.LearningRate;
            StepLoss loss;
            using (ScalarGcGuard.Enter()) loss = trainer.TrainStep(); // a cancellation arriving now is honoured after the step
            losses.Add(loss.Total);
            nativeHeap.AfterStep();
            double rate = (trainer.Step - first) / Math.Max(watch.Elapsed.TotalSeconds, 1e-9);
            progress?.Invoke(new TrainingProgress(trainer.Step, trainer.TotalSteps, loss.Total, lr, rate, watch.Elapsed, loss.Parts));
            if (trainer.Step % checkpointEvery == 0 || trainer.Step == trainer.TotalSteps) last = trainer.SaveCheckpoint();
        }
        bool cancelled = trainer.Step < trainer.TotalSteps;
        if (cancelled && trainer.Step > first) last = trainer.SaveCheckpoint();
        return new Result(trainer.Step, cancelled, last, losses);
    }
}
