using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using DetailFlow.Cli.Console;
using DetailFlow.Core.Checkpoints;
using DetailFlow.Core.Generation;
using DetailFlow.Core.Gpt;
using DetailFlow.Core.Tokenizer;
using DetailFlow.Training.Evaluation;

namespace DetailFlow.Cli.Commands;

/// <summary>
/// <c>detailflow eval-c2i</c> (official <c>scripts/eval_c2i.sh</c>): for each seed, samples <c>--per-class</c> images
/// of every class into a resumable <c>&lt;out&gt;/seed-&lt;s&gt;/</c> with the official defaults (cfg of the release,
/// top-k = vocabulary, top-p 1, temperature 1), then reports gFID against <c>--reference</c> statistics and the
/// Inception Score, per seed and averaged over the seeds (the README: results vary by up to 0.3 between seeds).
/// </summary>
public sealed class EvalC2iCommand : BaseCommand
{
    private static readonly Option<FileInfo> s_gpt = new("--gpt") { Description = "GPT checkpoint (.pt of a train-ar run or official, or converted); 'ema' weights unless --gpt-no-ema", Required = true };
    private static readonly Option<bool> s_gptNoEma = new("--gpt-no-ema") { Description = "Read the GPT's 'model' entry instead of 'ema'" };
    private static readonly Option<FileInfo> s_tokenizer = new("--tokenizer") { Description = "Tokenizer checkpoint ('model' entry, or converted)", Required = true };
    private static readonly Option<FileInfo> s_reference = new("--reference") { Description = "Reference statistics .npz with 'mu' and 'sigma' (ADM VIRTUAL_imagenet256_labeled.npz, pytorch-fid stats, or eval-tokenizer's real_stats.npz)", Required = true };
    private static readonly Option<DirectoryInfo> s_out = new("--out") { Description = "Sample root: seed-<s>/000000.png … (resumable) and seed-<s>_stats.npz", Required = true };
    private static readonly Option<int> s_perClass = new("--per-class") { Description = "Images per class (official: 50 → 50,000 for ImageNet)", DefaultValueFactory = _ => OfficialEvalDefaults.PerClass };
    private static readonly Option<double?> s_cfg = new("--cfg") { Description = "Classifier-free guidance scale (default: the release's README value by N: 128 → 1.45, 256 → 1.5, 512 → 1.32; else 1.5)" };
    private static readonly Option<int?> s_topK = new("--top-k") { Description = "Top-k (default: the whole vocabulary, as TOP_K=8192 in eval_c2i.sh)" };
    private static readonly Option<double> s_topP = new("--top-p") { Description = "Nucleus sampling mass", DefaultValueFactory = _ => OfficialEvalDefaults.TopP };
    private static readonly Option<double> s_temperature = new("--temperature") { Description = "Sampling temperature", DefaultValueFactory = _ => OfficialEvalDefaults.Temperature };
    private static readonly Option<string> s_seeds = new("--seeds") { Description = "Comma-separated global seeds, each its own sample folder; the results are averaged", DefaultValueFactory = _ => "0,1,2" };

    private readonly FeatureExtractorFactory _extractor;

    public EvalC2iCommand(IConsoleUi ui, FeatureExtractorFactory? extractor = null)
        : base("eval-c2i", "Class-conditional generation quality: gFID and Inception Score over several seeds", ui)
    {
        _extractor = extractor ?? EvalOptions.LoadInception;
        foreach (var o in new Option[] { TrainingCommandOptions.Config, s_gpt, s_gptNoEma, s_tokenizer, s_reference, s_out, s_perClass, s_cfg, s_topK, s_topP, s_temperature, s_seeds,
                     EvalOptions.Inception, EvalOptions.Resize, EvalOptions.BatchSize, EvalOptions.Json })
            Options.Add(o);
    }

    protected override Task<int> ExecuteAsync(ParseResult parse, CancellationToken cancellationToken)
    {
        EvalOptions.CheckBatchSize(parse);
        var seeds = ParseSeeds(parse.GetValue(s_seeds)!);
        int perClass = parse.GetValue(s_perClass);
        if (perClass < 1) throw new ArgumentOutOfRangeException("--per-class", perClass, "at least one image per class");
        using var extractor = EvalOptions.TryCreate(_extractor, parse, Ui);
        if (extractor is null) return Task.FromResult(ExitCodes.InvalidInput);
        using var reference = FeatureStatistics.Load(parse.GetValue(s_reference)!.FullName);
        if (reference.Dim != extractor.FeatureDim)
            throw new ArgumentException($"--reference holds {reference.Dim}-d statistics, {extractor.Name} gives {extractor.FeatureDim}-d features");
        using var gpt = GptTransformer.Load(parse.GetValue(s_gpt)!.FullName, entry: parse.GetValue(s_gptNoEma) ? CheckpointEntry.ModelModuleOrStateDict : CheckpointEntry.Ema);
        using var vq = VqModel.Load(parse.GetValue(s_tokenizer)!.FullName);
        vq.eval();
        var options = new SamplingOptions
        {
            CfgScale = parse.GetValue(s_cfg) ?? OfficialEvalDefaults.CfgFor(gpt.Config.BlockSize),
            TopK = parse.GetValue(s_topK) ?? gpt.Config.VocabSize,
            TopP = parse.GetValue(s_topP),
            Temperature = parse.GetValue(s_temperature),
        }.Validate(gpt.Config);
        int batch = parse.GetValue(EvalOptions.BatchSize);
        var evaluation = new ClassConditionalEvaluation(gpt, vq) { PerClass = perClass, Options = options, BatchSize = batch };
        string root = parse.GetValue(s_out)!.FullName;
        Ui.Info($"{evaluation.Count} images per seed ({gpt.Config.NumClasses} classes × {perClass}), cfg {options.CfgScale}, top-k {options.TopK}, top-p {options.TopP}, temperature {options.Temperature}, seeds {string.Join(",", seeds)}; features: {extractor.Name}");

        var scores = new List<ClassConditionalScore>();
        foreach (long seed in seeds)
        {
            var samples = new SampleFolder(Path.Combine(root, $"seed-{seed}"), vq.Config.ImageSize);
            int generated = Ui.Progress($"sample seed {seed}", evaluation.Count, 500, report => evaluation.Sample(samples, seed, report, cancellationToken));
            var (fid, isMean, isStd, stats) = Ui.Progress($"score seed {seed}", evaluation.Count, 5000,
                report => ClassConditionalEvaluation.Score(samples, evaluation.Count, extractor, reference, batch, report, cancellationToken));
            using (stats) stats.Save(Path.Combine(root, $"seed-{seed}_stats.npz"));
            scores.Add(new ClassConditionalScore(seed, evaluation.Count, generated, fid, isMean, isStd));
            Ui.Line($"seed {seed}: gFID {fid:F4}  IS {isMean:F3} ± {isStd:F3}  ({generated} generated now, {evaluation.Count - generated} reused)");
        }
        double meanFid = scores.Average(s => s.Fid), meanIs = scores.Average(s => s.InceptionScore);
        double sdFid = Math.Sqrt(scores.Sum(s => (s.Fid - meanFid) * (s.Fid - meanFid)) / Math.Max(1, scores.Count - 1));
        Ui.Table(["seed", "images", "gFID", "IS"], scores.Select(s => new[] { s.Seed.ToString(CultureInfo.InvariantCulture), s.Images.ToString(CultureInfo.InvariantCulture), s.Fid.ToString("F4", CultureInfo.InvariantCulture), $"{s.InceptionScore:F3} ± {s.InceptionScoreStd:F3}" }));
        Ui.Line($"gFID {meanFid:F4} (sd over {scores.Count} seeds {sdFid:F4})  IS {meanIs:F3}");
        if (parse.GetValue(EvalOptions.Json) is { } json)
            File.WriteAllText(json.FullName, JsonSerializer.Serialize(new
            {
                gfid = meanFid, gfid_sd = sdFid, inception_score = meanIs,
                seeds = scores.Select(s => new { seed = s.Seed, images = s.Images, generated = s.Generated, gfid = s.Fid, inception_score = s.InceptionScore, inception_score_sd = s.InceptionScoreStd }),
                cfg = options.CfgScale, top_k = options.TopK, top_p = options.TopP, temperature = options.Temperature, per_class = perClass, features = extractor.Name,
            }, new JsonSerializerOptions { WriteIndented = true }));
        return Task.FromResult(ExitCodes.Success);
    }

    private static long[] ParseSeeds(string text)
    {
        var parts = text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (parts.Length == 0) throw new ArgumentException("--seeds: give at least one seed");
        return parts.Select(p => long.TryParse(p, NumberStyles.Integer, CultureInfo.InvariantCulture, out long s) && s >= 0
            ? s : throw new ArgumentException($"--seeds: '{p}' is not a non-negative integer")).Distinct().ToArray();
    }
}
