using DetailFlow.Core.Checkpoints;
using DetailFlow.Core.Gpt;
using DetailFlow.Core.Tokenizer;
using DetailFlow.Training;
using DetailFlow.Training.Checkpointing;
using DetailFlow.Training.Data;
using DetailFlow.Training.Gpt;
using DetailFlow.Training.Tokenizer;
using TorchSharp;
using DetailFlow.Core.Runtime;

namespace DetailFlow.Api.Admin;

/// <summary>
/// Runs one job on the calling (dedicated) thread, as <c>train-tokenizer</c> / <c>extract-codes</c> + <c>train-ar</c>
/// do: a new run starts from the base checkpoint's weights (if any); a run folder that already has a checkpoint is
/// resumed from its newest one (weights, optimizer, step, schedule and data order), so the step count continues.
/// </summary>
public static class JobRunner
{
    public sealed record Outcome(TrainingRunner.Result Result, IReadOnlyList<string> ClassNames);

    /// <summary>Where the job is: "extracting codes" (ar, before its steps) or "training".</summary>
    public delegate void PhaseChanged(string phase, IReadOnlyList<string> classNames);

    public static Outcome Run(JobRecord job, int threads, PhaseChanged phase, Action<TrainingProgress> progress, CancellationToken ct)
    {
        TorchThreads.Configure(threads);   // this thread's intra-op budget; serving keeps its own
        using var heap = NativeCaches.HeapForTraining();   // its steps reuse freed blocks from the heap
        var spec = job.Spec;
        var (source, isIdx) = OpenData(job);
        return spec.Kind == JobSpec.Ar ? RunAr(job, source, phase, progress, ct) : RunTokenizer(job, source, isIdx, phase, progress, ct);
    }

    /// <summary>The dataset folder of an uploaded archive (its single wrapping folder, if any, is the root).</summary>
    public static string UploadRoot(string jobFolder)
    {
        string root = Path.Combine(jobFolder, "dataset");
        return Directory.GetFiles(root).Length == 0 && Directory.GetDirectories(root) is [var only]
               && Directory.GetFiles(only).Length == 0 && Directory.GetDirectories(only).Length > 0 ? only : root;
    }

    private static (ILabeledImageSource Source, bool IsIdx) OpenData(JobRecord job)
    {
        var spec = job.Spec;
        if (spec.Uploaded) return (new ImageFolderSource(UploadRoot(job.Folder)), false);
        if (spec.DatasetPath is { } folder) return (new ImageFolderSource(folder), false);
        return (IdxImageSource.Open(spec.IdxImages!, spec.IdxLabels!, 32, spec.IdxLimit, IdxImageSource.FashionMnistClasses), true);
    }

    private static Outcome RunTokenizer(JobRecord job, ILabeledImageSource source, bool isIdx, PhaseChanged phase,
        Action<TrainingProgress> progress, CancellationToken ct)
    {
        var spec = job.Spec;
        string runDir = job.RunDir;
        string? latest = TrainingCheckpoint.Latest(runDir);
        TokenizerConfig config;
        VqModel? start = null;
        if (latest is not null) config = TokenizerConfig.Load(Path.Combine(runDir, "config.json"));
        else if (spec.BaseTokenizer is { } basePath) { start = VqModel.Load(basePath); config = start.Config; }
        else config = SmallConfigs.Tokenizer;
        var options = new TokenizerTrainingOptions
        {
            BatchSize = spec.BatchSize!.Value, TotalSteps = spec.Steps!.Value, Lr = spec.Lr!.Value, Seed = spec.Seed!.Value,
            KeepLast = spec.KeepLast!.Value, Ema = spec.Ema!.Value, CorrectionTraining = config.CorrectionTraining,
            WarmupSteps = (long)(spec.Warmup!.Value * spec.Steps!.Value), CodebookFromData = start is null && latest is null,
        };
        var augmentation = isIdx ? AugmentationKind.Flip : AugmentationKind.RandomCropFlip;
        TokenizerTrainer trainer;
        using (start)
        {
            trainer = latest is not null
                ? TokenizerTrainer.Resume(config, source, augmentation, options, runDir, latest)
                : TokenizerTrainer.Create(config, source, augmentation, options, runDir);
            if (start is not null)
            {
                WeightTransfer.Copy(start, trainer.Model, spec.BaseTokenizer!);
                if (trainer.Ema is not null) WeightTransfer.Copy(start, trainer.Ema, spec.BaseTokenizer!);
            }
        }
        using (trainer)
        {
            phase("training", source.ClassNames);
            return new Outcome(TrainingRunner.Run(trainer, spec.CheckpointEvery!.Value, progress, ct), source.ClassNames);
        }
    }

    private static Outcome RunAr(JobRecord job, ILabeledImageSource source, PhaseChanged phase, Action<TrainingProgress> progress,
        CancellationToken ct)
    {
        var spec = job.Spec;
        string runDir = job.RunDir, codesDir = Path.Combine(job.Folder, "codes");
        const string dataset = "job";
        if (!Directory.Exists(codesDir))
        {
            phase("extracting codes", source.ClassNames);
            using var tokenizer = VqModel.Load(spec.BaseTokenizer!);
            var extracted = CodeExtractor.Extract(tokenizer, source, new CodeExtractionOptions { Seed = spec.Seed!.Value, Dataset = dataset },
                cancellationToken: ct);
            ct.ThrowIfCancellationRequested();
            string partial = codesDir + ".partial";
            if (Directory.Exists(partial)) Directory.Delete(partial, recursive: true);
            extracted.Codes.Save(partial, dataset, tokenizer.Config.ImageSize, extracted.Info);
            Directory.Move(partial, codesDir);   // whole or absent: a kill during extraction extracts again
        }
        var codes = CodeDataset.Open(codesDir, dataset);
        var options = new GptTrainingOptions
        {
            BatchSize = spec.BatchSize!.Value, TotalSteps = spec.Steps!.Value, Lr = spec.Lr!.Value, Seed = spec.Seed!.Value,
            KeepLast = spec.KeepLast!.Value, Ema = spec.Ema!.Value, WarmupRatio = spec.Warmup!.Value,
        };
        string? latest = TrainingCheckpoint.Latest(runDir);
        GptTrainer trainer;
        if (latest is not null)
        {
            string json = Path.Combine(runDir, "config.json");
            trainer = GptTrainer.Resume(GptConfig.Load(json, ConfigJson.OfficialYamlFor(json)), codes, options, runDir, latest);
        }
        else if (spec.BaseGpt is { } basePath)
        {
            using var start = GptTransformer.Load(basePath);
            var shaped = codes.ShapeGpt(start.Config);
            if (shaped.VocabSize != start.Config.VocabSize || shaped.BlockSize != start.Config.BlockSize || shaped.GroupSize != start.Config.GroupSize)
                throw new InvalidDataException($"base_gpt '{basePath}' (vocab {start.Config.VocabSize}, N {start.Config.BlockSize}, G {start.Config.GroupSize}) " +
                                               $"does not fit the base_tokenizer's codes (vocab {shaped.VocabSize}, N {shaped.BlockSize}, G {shaped.GroupSize})");
            trainer = GptTrainer.Create(start.Config with { Format = null }, codes, options, runDir);
            WeightTransfer.Copy(start, trainer.Model, basePath);
            if (trainer.Ema is not null) WeightTransfer.Copy(start, trainer.Ema, basePath);
        }
        else
        {
            var size = SmallConfigs.Gpt with { NumClasses = Math.Max(SmallConfigs.Gpt.NumClasses, codes.ClassCount) };
            trainer = GptTrainer.Create(codes.ShapeGpt(size), codes, options, runDir);
        }
        using (trainer)
        {
            phase("training", source.ClassNames);
            return new Outcome(TrainingRunner.Run(trainer, spec.CheckpointEvery!.Value, progress, ct), source.ClassNames);
        }
    }
}
