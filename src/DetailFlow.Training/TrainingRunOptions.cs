namespace DetailFlow.Training;

/// <summary>The settings every trainer shares (batch, steps, AdamW, clipping, EMA, seed, checkpoints kept).</summary>
public abstract record TrainingRunOptions
{
    public int BatchSize { get; init; } = 256;
    public long TotalSteps { get; init; } = 1000;
    public double Lr { get; init; } = 1e-4;
    public double Beta1 { get; init; } = 0.9;
    public double Beta2 { get; init; } = 0.95;
    public double MaxGradNorm { get; init; } = 1.0;
    public abstract bool Ema { get; init; }
    public double EmaDecay { get; init; } = 0.9999;
    public int Seed { get; init; }
    public int KeepLast { get; init; } = 3;

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> naming the first shared setting out of range.</summary>
    protected void ValidateShared()
    {
        Check(BatchSize > 0, nameof(BatchSize), BatchSize, "batch size must be positive");
        Check(TotalSteps > 0, nameof(TotalSteps), TotalSteps, "total steps must be positive");
        Check(Lr > 0, nameof(Lr), Lr, "learning rate must be positive");
        Check(MaxGradNorm >= 0, nameof(MaxGradNorm), MaxGradNorm, "gradient clip must be non-negative (0 = off)");
        Check(EmaDecay is >= 0 and <= 1, nameof(EmaDecay), EmaDecay, "EMA decay must be in [0, 1]");
        Check(KeepLast >= 1, nameof(KeepLast), KeepLast, "keep at least one checkpoint");
    }

    protected static void Check(bool ok, string name, object? value, string rule)
    {
        if (!ok) throw new ArgumentOutOfRangeException(name, value, rule);
    }
}
