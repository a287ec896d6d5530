namespace DetailFlow.Training.Gpt;

/// <summary>
/// AR training settings (official <c>configs/ar_l.yaml</c> and <c>train_c2i.py</c> defaults, spec §9.3).
/// </summary>
public sealed record GptTrainingOptions : TrainingRunOptions
{
    public double WeightDecay { get; init; } = 0.05;
    public double WarmupRatio { get; init; } = 0.05;
    public override bool Ema { get; init; } = true;
    /// <summary>Share of sequences trained on the self-correction columns (official <c>--correction-prob</c> 0.3).</summary>
    public double CorrectionProb { get; init; } = 0.3;

    public GptTrainingOptions Validate()
    {
        ValidateShared();
        Check(WeightDecay >= 0, nameof(WeightDecay), WeightDecay, "weight decay must be non-negative");
        Check(WarmupRatio is >= 0 and < 1, nameof(WarmupRatio), WarmupRatio, "warm-up ratio must be in [0, 1)");
        Check(CorrectionProb is >= 0 and <= 1, nameof(CorrectionProb), CorrectionProb, "correction probability must be in [0, 1]");
        return this;
    }
}
