using DetailFlow.Core.Gpt;
using DetailFlow.Training.Checkpointing;
using DetailFlow.Training.Data;
using DetailFlow.Training.Optim;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace DetailFlow.Training.Gpt;

/// <summary>
/// Class-conditional AR training (official <c>train_c2i.py</c>, spec §9.3) of the Core <see cref="GptTransformer"/>:
/// per sample a random augmentation of its codes; with probability <see cref="GptTrainingOptions.CorrectionProb"/>
/// input = column "input"[0, N − G) and target = "label"[0, N), else both from "clean"; forward in train mode
/// (class-label, token, residual and FFN dropout); mean cross-entropy over all N positions; AdamW with decay on
/// ≥ 2-D tensors, warm-up + cosine LambdaLR per step, gradient clipping, EMA. Randomness of step s (batch order,
/// crops, noise choice, dropout) derives from (seed, s), so resuming from a checkpoint continues the same run.
/// </summary>
public sealed class GptTrainer : ITrainer, IDisposable
{
    private readonly CodeDataset _data;
    private readonly EpochOrder _order;
    private readonly AdamW _optimizer;
    private readonly LearningRateSchedule _schedule;
    private readonly string _runDir;

    private GptTrainer(GptConfig config, CodeDataset data, GptTrainingOptions options, string runDir)
    {
        Options = options.Validate();
        Config = config.Validate();
        if (data.Tokens != config.BlockSize)
            throw new ArgumentException($"codes have {data.Tokens} tokens per image, the GPT block_size is {config.BlockSize}", nameof(data));
        if (data.ClassCount > config.NumClasses)
            throw new ArgumentException($"codes carry labels up to {data.ClassCount - 1}, the GPT has {config.NumClasses} classes", nameof(data));
        _data = data;
        _runDir = runDir;
        _order = new EpochOrder(data.Count, options.Seed);
        torch.manual_seed(options.Seed);
        Model = new GptTransformer(config);
        GptInitialization.Apply(Model, options.Seed);
        Model.train();
        if (options.Ema)
        {
            Ema = new GptTransformer(config);
            ExponentialMovingAverage.Update(Ema, Model, decay: 0);
            ExponentialMovingAverage.Freeze(Ema);
        }
        _optimizer = AdamW.ForModule(Model, options.WeightDecay, options.Beta1, options.Beta2);
        _schedule = LearningRateSchedule.Gpt(options.Lr, options.TotalSteps, options.WarmupRatio);
    }

    public GptConfig Config { get; }
    public GptTrainingOptions Options { get; }
    public GptTransformer Model { get; }
    public GptTransformer? Ema { get; }
    public long Step { get; private set; }
    public long TotalSteps => Options.TotalSteps;
    public double LearningRate => _schedule.At(Step);

    /// <summary>A fresh run in <paramref name="runDir"/> (writes config.json / config.yaml there).</summary>
    public static GptTrainer Create(GptConfig config, CodeDataset data, GptTrainingOptions options, string runDir)
    {
        var trainer = new GptTrainer(config, data, options, runDir);
        TrainingCheckpoint.WriteConfigs(runDir, config, YamlFor(config, options));
        return trainer;
    }

    /// <summary>Continues a run from <paramref name="checkpointPath"/>: weights, EMA, optimizer moments, step (hence schedule and data order).</summary>
    public static GptTrainer Resume(GptConfig config, CodeDataset data, GptTrainingOptions options, string runDir, string checkpointPath)
    {
        var trainer = new GptTrainer(config, data, options, runDir);
        trainer.Step = TrainingCheckpoint.Restore(checkpointPath, trainer.Model, trainer.Ema, trainer._optimizer);
        return trainer;
    }

    public StepLoss TrainStep()
    {
        using var scope = torch.NewDisposeScope();
        torch.manual_seed(Seeds.Mix(Options.Seed, Step, 3)); // dropout and class dropout of this step
        var (input, target, classes) = Batch(Step);
        var logits = Model.Forward(input, classes);                                // [B, N, V]
        var loss = F.cross_entropy(logits.reshape(-1, Config.VocabSize), target.reshape(-1));
        _optimizer.Minimize(loss, Model, Options.MaxGradNorm, _schedule.At(Step));
        if (Ema is not null) ExponentialMovingAverage.Update(Ema, Model, Options.EmaDecay);
        Step++;
        double value = loss.item<float>();
        return new StepLoss(value, new Dictionary<string, double> { ["ce"] = value });
    }

    /// <summary>The batch of step <paramref name="step"/>: input codes [B, N − G], targets [B, N], classes [B].</summary>
    internal (Tensor Input, Tensor Target, Tensor Classes) Batch(long step)
    {
        int b = Options.BatchSize, n = _data.Tokens, g = Config.GroupSize;
        var input = new long[b * (n - g)];
        var target = new long[b * n];
        var classes = new long[b];
        for (int i = 0; i < b; i++)
        {
            long position = step * b + i;
            int image = _order.IndexAt(position);
            var rng = new Random(Seeds.Mix(Options.Seed, position, 2));
            int aug = rng.Next(_data.Augmentations);
            bool noisy = _data.Columns == 3 && rng.NextDouble() < Options.CorrectionProb;
            int inCol = noisy ? 1 : 0, outCol = noisy ? 2 : 0;
            for (int t = 0; t < n - g; t++) input[i * (n - g) + t] = _data.At(image, aug, t, inCol);
            for (int t = 0; t < n; t++) target[i * n + t] = _data.At(image, aug, t, outCol);
            classes[i] = _data.Labels[image];
        }
        return (torch.tensor(input, [b, n - g]), torch.tensor(target, [b, n]), torch.tensor(classes, [b]));
    }

    public string SaveCheckpoint()
    {
        var entries = new Dictionary<string, object> { ["model"] = Model, ["optimizer"] = _optimizer.StateDict() };
        if (Ema is not null) entries["ema"] = Ema;
        return TrainingCheckpoint.Save(_runDir, Step, entries, Options.KeepLast);
    }

    /// <summary>Mean cross-entropy of <paramref name="model"/> (eval mode, no dropout) on the first batch of the data order.</summary>
    public double Evaluate(GptTransformer model, int batches = 1)
    {
        bool wasTraining = model.training;
        model.eval();
        try
        {
            using var noGrad = torch.no_grad();
            double sum = 0;
            for (int k = 0; k < batches; k++)
            {
                using var scope = torch.NewDisposeScope();
                var (input, target, classes) = Batch(k);
                var logits = model.Forward(input, classes);
                sum += F.cross_entropy(logits.reshape(-1, Config.VocabSize), target.reshape(-1)).item<float>();
            }
            return sum / batches;
        }
        finally
        {
            if (wasTraining) model.train();
        }
    }

    private static IEnumerable<KeyValuePair<string, string>> YamlFor(GptConfig config, GptTrainingOptions o)
    {
        var inv = System.Globalization.CultureInfo.InvariantCulture;
        var preset = GptConfig.Presets.FirstOrDefault(p => p.Value == (config.NLayer, config.NHead, config.Dim)).Key;
        if (preset is not null) yield return new("gpt_model", preset); // the official loader's size switch; omitted for custom sizes
        yield return new("gpt_type", "c2i");
        yield return new("ema", o.Ema ? "True" : "False");
        yield return new("num_classes", config.NumClasses.ToString(inv));
        yield return new("lr", o.Lr.ToString("R", inv));
        yield return new("weight_decay", o.WeightDecay.ToString("R", inv));
        yield return new("beta1", o.Beta1.ToString("R", inv));
        yield return new("beta2", o.Beta2.ToString("R", inv));
        yield return new("max_grad_norm", o.MaxGradNorm.ToString("R", inv));
        yield return new("global_batch_size", o.BatchSize.ToString(inv));
        yield return new("global_seed", o.Seed.ToString(inv));
        yield return new("correction_prob", o.CorrectionProb.ToString("R", inv));
        yield return new("token_dropout_p", config.TokenDropoutP.ToString("R", inv));
        yield return new("dropout_p", config.ResidDropoutP.ToString("R", inv));
    }

    public void Dispose()
    {
        _optimizer.Dispose();
        Model.Dispose();
        Ema?.Dispose();
    }
}
