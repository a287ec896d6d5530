namespace DetailFlow.Training.Optim;

/// <summary>
/// Linear warm-up then cosine decay, per iteration (both official schedules, spec §9.1 and §9.3):
/// step &lt; W: lr = start + (base − start)·step/W; afterwards lr = min + (base − min)·½(1 + cos(π·(step − W)/(T − W))).
/// GPT (<c>train_c2i.py</c> LambdaLR): start = 0.005·base, min = 0.01·base, W = 5 % of T.
/// Tokenizer (timm cosine, 1 warm-up epoch): start = 1e−5, min = 0.1·base.
/// </summary>
public sealed record LearningRateSchedule(double BaseLr, long WarmupSteps, long TotalSteps, double WarmupStartLr, double MinLr)
{
    public static LearningRateSchedule Gpt(double baseLr, long totalSteps, double warmupRatio = 0.05) =>
        new(baseLr, (long)(warmupRatio * totalSteps), totalSteps, 0.005 * baseLr, 0.01 * baseLr);

    public static LearningRateSchedule Tokenizer(double baseLr, long totalSteps, long warmupSteps) =>
        new(baseLr, warmupSteps, totalSteps, Math.Min(1e-5, baseLr), 0.1 * baseLr);

    public double At(long step)
    {
        if (step < 0) throw new ArgumentOutOfRangeException(nameof(step), step, "step must be non-negative");
        if (step < WarmupSteps) return WarmupStartLr + (BaseLr - WarmupStartLr) * step / WarmupSteps;
        if (TotalSteps <= WarmupSteps) return BaseLr;
        double progress = Math.Min(1.0, (double)(step - WarmupSteps) / (TotalSteps - WarmupSteps));
        return MinLr + (BaseLr - MinLr) * 0.5 * (1 + Math.Cos(Math.PI * progress));
    }
}
