using DetailFlow.Core.Generation;
using DetailFlow.Core.Tokenizer;
using DetailFlow.Training.Checkpointing;
using DetailFlow.Training.Data;
using DetailFlow.Training.Losses;
using DetailFlow.Training.Optim;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace DetailFlow.Training.Tokenizer;

/// <summary>
/// Tokenizer training (official <c>train/train_tokenizer.py</c> + <c>losses/vq_loss.py</c>, spec §9.1) of the Core
/// <see cref="VqModel"/>: per step a batch from the prefetching loader, the resolution degradation (t, r_t, d_t), the
/// self-correction noise index, <see cref="VqModel.EncodeWithCorrection"/> (clean and noisy branches stacked on the
/// batch), decoding t latents at d_t, loss = w_rec·MSE + w_cb·(codebook + commitment) [+ w_p(step)·LPIPS]
/// [+ w_d·hinge generator loss from <c>disc_start</c>], Adam(W) with warm-up + cosine, gradient clipping, optional
/// EMA; the discriminator (if any) takes its hinge step after the generator. Not ported: the global-token (REPA)
/// loss — it needs the frozen SigLIP2 so400m tower — and bf16 autocast. Randomness of step s derives from
/// (seed, s): data order, augmentation, degradation, noise index, noisy codes, dropout; resuming continues the run.
/// </summary>
public sealed class TokenizerTrainer : ITrainer, IDisposable
{
    private readonly ILabeledImageSource _data;
    private readonly AugmentationKind _augmentation;
    private readonly AdamW _optimizer;
    private readonly LearningRateSchedule _schedule;
    private readonly ResolutionDegradation _degradation;
    private readonly string _runDir;
    private readonly PatchDiscriminator? _discriminator;
    private readonly AdamW? _discOptimizer;
    private readonly PerceptualLoss? _perceptual;
    private PrefetchingImageLoader? _loader;
    private IEnumerator<ImageBatch>? _batches;

    private TokenizerTrainer(TokenizerConfig config, ILabeledImageSource data, AugmentationKind augmentation,
        TokenizerTrainingOptions options, string runDir)
    {
        Options = options.Validate();
        Config = config.Resolve();
        if (Config.MaxImageSize != Config.ImageSize)
            throw new ArgumentException($"training runs at image_size {Config.ImageSize}; max_image_size {Config.MaxImageSize} must equal it", nameof(config));
        if (options.CorrectionTraining && !Config.CorrectionTraining)
            throw new ArgumentException("self-correction training needs a config with correction_training = true", nameof(options));
        _data = data ?? throw new ArgumentNullException(nameof(data));
        _augmentation = augmentation;
        _runDir = runDir;
        _degradation = new ResolutionDegradation(ResolutionSchedule.For(Config));
        torch.manual_seed(options.Seed);
        Model = new VqModel(Config);
        Model.train();
        if (options.Ema)
        {
            Ema = new VqModel(Config);
            ExponentialMovingAverage.Update(Ema, Model, 0);
            ExponentialMovingAverage.Freeze(Ema);
        }
        _optimizer = AdamW.ForModule(Model, options.WeightDecay, options.Beta1, options.Beta2);
        _schedule = LearningRateSchedule.Tokenizer(options.Lr, options.TotalSteps, options.WarmupSteps);
        if (options.DiscWeight > 0)
        {
            _discriminator = new PatchDiscriminator(options.DiscChannels, options.DiscLayers);
            _discOptimizer = AdamW.ForModule(_discriminator, 0, options.Beta1, options.Beta2);
        }
        if (options.PerceptualModel is { } lpips) _perceptual = PerceptualLoss.Load(lpips);
    }

    public TokenizerConfig Config { get; }
    public TokenizerTrainingOptions Options { get; }
    public VqModel Model { get; }
    public VqModel? Ema { get; }
    public long Step { get; private set; }
    public long TotalSteps => Options.TotalSteps;
    public double LearningRate => _schedule.At(Step);

    /// <summary>Unreadable items the loader skipped so far (see <see cref="PrefetchingImageLoader.Skipped"/>).</summary>
    public IReadOnlyCollection<SkippedImage> Skipped => _loader?.Skipped ?? [];

    public static TokenizerTrainer Create(TokenizerConfig config, ILabeledImageSource data, AugmentationKind augmentation,
        TokenizerTrainingOptions options, string runDir)
    {
        var trainer = new TokenizerTrainer(config, data, augmentation, options, runDir);
        TrainingCheckpoint.WriteConfigs(runDir, trainer.Config, TokenizerRunYaml.For(trainer.Config, options));
        return trainer;
    }

    public static TokenizerTrainer Resume(TokenizerConfig config, ILabeledImageSource data, AugmentationKind augmentation,
        TokenizerTrainingOptions options, string runDir, string checkpointPath)
    {
        var trainer = new TokenizerTrainer(config, data, augmentation, options, runDir);
        trainer.Step = TrainingCheckpoint.Restore(checkpointPath, trainer.Model, trainer.Ema, trainer._optimizer, ckpt =>
        {
            if (trainer._discriminator is null) return;
            TrainingCheckpoint.LoadModule(ckpt, "discriminator", trainer._discriminator, checkpointPath);
            TrainingCheckpoint.LoadOptimizer(ckpt, "optimizer_disc", trainer._discOptimizer!, checkpointPath);
        });
        return trainer;
    }

    public StepLoss TrainStep()
    {
        var batch = NextBatch();
        using var scope = torch.NewDisposeScope();
        if (Step == 0 && Options.CodebookFromData) InitializeCodebookFromData(batch);
        torch.manual_seed(Seeds.Mix(Options.Seed, Step, 3));
        var rng = new Random(Seeds.Mix(Options.Seed, Step, 4));
        using var noiseGenerator = new Generator((ulong)Seeds.Mix(Options.Seed, Step, 5));
        var images = batch.ImagesTensor(Model.Device);

        var (t, r, d) = _degradation.Sample(Options.DegradationProb, rng);
        var target = t == Config.NumLatentTokens ? images : ResolutionDegradation.Target(images, r, d);
        int? noiseIndex = Options.CorrectionTraining ? _degradation.NoiseIndex(t, rng) : null;
        var enc = Model.EncodeWithCorrection(images, Config.NumLatentTokens, noiseIndex, noiseGenerator);
        var quant = enc.CleanQuant is { } clean ? torch.cat([clean, enc.Quant], 0) : enc.Quant;   // [B or 2B, N, d]
        var targets = enc.CleanQuant is null ? target : torch.cat([target, target], 0);
        var recon = Model.DecodeForTraining(quant, t, d);                                        // [B or 2B, 3, d, d]

        var rec = F.mse_loss(recon, targets);
        var loss = Options.ReconstructionWeight * rec + Options.CodebookWeight * (enc.VqLoss + enc.CommitLoss);
        var parts = new Dictionary<string, double>
        {
            ["rec"] = rec.item<float>(), ["vq"] = enc.VqLoss.item<float>(), ["commit"] = enc.CommitLoss.item<float>(),
        };
        if (_perceptual is not null)
        {
            double w = Options.PerceptualWeight * (Options.PerceptualWarmup == 0 ? 1 : Math.Min(1.0, (double)Step / Options.PerceptualWarmup));
            var p = _perceptual.Distance(targets, recon);
            loss = loss + w * p;
            parts["lpips"] = p.item<float>();
        }
        bool adversarial = _discriminator is not null && Step >= Options.DiscStart;
        if (adversarial)
        {
            var g = HingeLoss.Generator(_discriminator!.forward(ToDiscriminatorSize(recon)));
            loss = loss + Options.DiscWeight * g;
            parts["gen"] = g.item<float>();
        }

        double lr = _schedule.At(Step);
        _optimizer.Minimize(loss, Model, Options.MaxGradNorm, lr);

        if (adversarial) parts["disc"] = DiscriminatorStep(targets, recon, lr);
        if (Ema is not null) ExponentialMovingAverage.Update(Ema, Model, Options.EmaDecay);
        Step++;
        double total = loss.item<float>();
        return new StepLoss(total, parts);
    }

    /// <summary>The discriminator's hinge step after the generator's, on detached real and reconstructed images; its loss.</summary>
    private double DiscriminatorStep(Tensor targets, Tensor recon, double lr)
    {
        var real = _discriminator!.forward(ToDiscriminatorSize(targets.detach()));
        var fake = _discriminator.forward(ToDiscriminatorSize(recon.detach()));
        var dLoss = Options.DiscWeight * HingeLoss.Discriminator(real, fake);
        _discOptimizer!.Minimize(dLoss, _discriminator, Options.MaxGradNorm, lr);
        return dLoss.item<float>();
    }

    /// <summary>Codebook rows ← random l2-normalised encoder outputs of <paramref name="batch"/> + 1 % noise (see <see cref="TokenizerTrainingOptions.CodebookFromData"/>).</summary>
    private void InitializeCodebookFromData(ImageBatch batch)
    {
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        using var generator = new Generator((ulong)Seeds.Mix(Options.Seed, -1, 8));
        var (_, latents) = Model.encoder!.Forward(batch.ImagesTensor(Model.Device), Config.NumLatentTokens);
        var z = nn.functional.normalize(Model.quant_conv!.forward(latents).reshape(-1, Config.CodebookEmbedDim), dim: -1); // [B·N, d]
        var pick = torch.randint(0, z.shape[0], [Config.CodebookSize], generator: generator, device: z.device);
        var rows = z.index_select(0, pick) + 0.01 * torch.randn(Config.CodebookSize, Config.CodebookEmbedDim, generator: generator, device: z.device);
        Model.quantize.embedding.weight!.copy_(nn.functional.normalize(rows, dim: -1));
        if (Ema is not null) Ema.quantize.embedding.weight!.copy_(Model.quantize.embedding.weight!);
        Model.ClearCaches();
    }

    /// <summary>The discriminator sees every output at the training size (the official DINO discriminator resizes to 224 likewise).</summary>
    private Tensor ToDiscriminatorSize(Tensor images) => ResolutionDegradation.Resize(images, Config.ImageSize);

    private ImageBatch NextBatch()
    {
        if (_batches is null)
        {
            _loader = new PrefetchingImageLoader(_data, _augmentation, Config.ImageSize, Options.BatchSize, Options.Seed,
                startStep: Step, endStep: TotalSteps, capacity: Options.Prefetch);
            _batches = _loader.Batches().GetEnumerator(); // shut down by disposing the loader, never mid-step
        }
        if (!_batches.MoveNext()) throw new InvalidOperationException($"the data loader ended before step {Step} of {TotalSteps}");
        if (_batches.Current.Step != Step) throw new InvalidOperationException($"data loader is at step {_batches.Current.Step}, the trainer at {Step}");
        return _batches.Current;
    }

    /// <summary>
    /// Mean full-size reconstruction MSE of <paramref name="model"/> (eval, no grad, clean path) on
    /// <paramref name="images"/> [B, 3, S, S].
    /// </summary>
    public static double ReconstructionMse(VqModel model, Tensor images)
    {
        bool wasTraining = model.training;
        model.eval();
        model.ClearCaches();
        try
        {
            using var scope = torch.NewDisposeScope();
            using var noGrad = torch.no_grad();
            var recon = model.Reconstruct(images, null, (int)images.shape[2]);
            return F.mse_loss(recon, images.to(recon.dtype)).item<float>();
        }
        finally
        {
            model.ClearCaches();
            if (wasTraining) model.train();
        }
    }

    public string SaveCheckpoint()
    {
        var entries = new Dictionary<string, object> { ["model"] = Model, ["optimizer"] = _optimizer.StateDict() };
        if (Ema is not null) entries["ema"] = Ema;
        if (_discriminator is not null)
        {
            entries["discriminator"] = _discriminator;
            entries["optimizer_disc"] = _discOptimizer!.StateDict();
        }
        return TrainingCheckpoint.Save(_runDir, Step, entries, Options.KeepLast);
    }

    public void Dispose()
    {
        _batches?.Dispose();
        _loader?.Dispose();
        _optimizer.Dispose();
        _discOptimizer?.Dispose();
        _discriminator?.Dispose();
        _perceptual?.Dispose();
        Model.Dispose();
        Ema?.Dispose();
    }
}
