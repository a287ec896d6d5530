namespace DetailFlow.Training.Tokenizer;

/// <summary>
/// Tokenizer training settings (official <c>configs/vq_8k_siglip_b_res_p02_pw15_enc.yaml</c>, <c>train_tokenizer.py</c>,
/// <c>losses/vq_loss.py</c>; spec §9.1). Perceptual and adversarial losses are off unless configured.
/// </summary>
public sealed record TokenizerTrainingOptions : TrainingRunOptions
{
    /// <summary>0: the official "adam" optimizer applies no weight decay.</summary>
    public double WeightDecay { get; init; }
    /// <summary>Warm-up steps (official: one epoch).</summary>
    public long WarmupSteps { get; init; } = 100;
    public override bool Ema { get; init; }
    public double DegradationProb { get; init; } = 0.2;
    /// <summary>Self-correction training (noise index drawn with probability 1 for every t > 1).</summary>
    public bool CorrectionTraining { get; init; } = true;
    public double ReconstructionWeight { get; init; } = 1.0;
    public double CodebookWeight { get; init; } = 1.0;

    /// <summary>LPIPS-style network file (see <see cref="Losses.PerceptualLoss"/>); null = no perceptual loss.</summary>
    public string? PerceptualModel { get; init; }
    public double PerceptualWeight { get; init; } = 1.0;
    /// <summary>Perceptual weight ramps linearly over this many steps (official <c>perceptual_warmup</c> 10000).</summary>
    public long PerceptualWarmup { get; init; } = 10000;

    /// <summary>Hinge GAN weight; 0 = no discriminator.</summary>
    public double DiscWeight { get; init; }
    /// <summary>First step with the adversarial terms (official <c>disc_start</c> 40000).</summary>
    public long DiscStart { get; init; } = 40000;
    public int DiscChannels { get; init; } = 64;
    public int DiscLayers { get; init; } = 3;

    /// <summary>
    /// Codebook start: false = the module's random rows (official); true = rows drawn from the l2-normalised encoder
    /// outputs of the first batch (plus 1 % noise) before step 0. An addition for small models trained from scratch:
    /// their encoder outputs start in a narrow cone, and with random rows one code soon wins every latent
    /// (docs/training.md); data-drawn rows keep the codes apart.
    /// </summary>
    public bool CodebookFromData { get; init; }

    public int Prefetch { get; init; } = 4;

    public TokenizerTrainingOptions Validate()
    {
        ValidateShared();
        Check(WeightDecay >= 0, nameof(WeightDecay), WeightDecay, "weight decay must be non-negative");
        Check(WarmupSteps >= 0, nameof(WarmupSteps), WarmupSteps, "warm-up steps must be non-negative");
        Check(DegradationProb is >= 0 and <= 1, nameof(DegradationProb), DegradationProb, "degradation probability must be in [0, 1]");
        Check(PerceptualWeight >= 0 && PerceptualWarmup >= 0, nameof(PerceptualWeight), PerceptualWeight, "perceptual weight and warm-up must be non-negative");
        Check(DiscWeight >= 0 && DiscStart >= 0, nameof(DiscWeight), DiscWeight, "discriminator weight and start must be non-negative");
        Check(DiscChannels > 0 && DiscLayers > 0, nameof(DiscChannels), DiscChannels, "discriminator size must be positive");
        Check(Prefetch >= 1, nameof(Prefetch), Prefetch, "prefetch must be at least one batch");
        return this;
    }
}
