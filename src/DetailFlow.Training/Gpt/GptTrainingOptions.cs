namespace DetailFlow.Training.Gpt;

/// <summary>
/// AR training settings (official <c>configs/ar_l.yaml</c> and <c>train_c2i.py</c> defaults, spec §9.3).
/// </summary>
public sealed record GptTrainingOptions
{
    public int BatchSize { get; init; } = 256;
    public long TotalSteps { get; init; } = 1000;
    public double Lr { get; init; } = 1e-4;
    public double Beta1 { get; init; } = 0.9;
    public double Beta2 { get; init; } = 0.95;
    public double WeightDecay { get; init; } = 0.05;
    public double MaxGradNorm { get; init; } = 1.0;
    public double WarmupRatio { get; init; } = 0.05;
    public bool Ema { get; init; } = true;
    public double EmaDecay { get; init; } = 0.9999;
    /// <summary>Share of sequences trained on the self-correction columns (official <c>--correction-prob</c> 0.3).</summary>
    public double CorrectionProb { get; init; } = 0.3;
    public int Seed { get; init; }
    public int KeepLast { get; init; } = 3;

    public GptTrainingOptions Validate()
    {
        void Check(bool ok, string name, object value, string rule) { if (!ok) throw new ArgumentOutOfRangeException(name, value, rule); }
        Check(BatchSize > 0, nameof(BatchSize), BatchSize, "batch size must be positive");
        Check(TotalSteps > 0, nameof(TotalSteps), TotalSteps, "total steps must be positive");
        Check(Lr > 0, nameof(Lr), Lr, "learning rate must be positive");
        Check(WeightDecay >= 0, nameof(WeightDecay), WeightDecay, "weight decay must be non-negative");
        Check(MaxGradNorm >= 0, nameof(MaxGradNorm), MaxGradNorm, "gradient clip must be non-negative (0 = off)");
        Check(WarmupRatio is >= 0 and < 1, nameof(WarmupRatio), WarmupRatio, "warm-up ratio must be in [0, 1)");
        Check(EmaDecay is >= 0 and <= 1, nameof(EmaDecay), EmaDecay, "EMA decay must be in [0, 1]");
        Check(CorrectionProb is >= 0 and <= 1, nameof(CorrectionProb), CorrectionProb, "correction probability must be in [0, 1]");
        Check(KeepLast >= 1, nameof(KeepLast), KeepLast, "keep at least one checkpoint");
        return this;
    }
}
