using System.CommandLine;
using System.Globalization;
using DetailFlow.Cli.Console;
using DetailFlow.Core.Checkpoints;
using DetailFlow.Core.Generation;
using DetailFlow.Core.Gpt;
using DetailFlow.Core.Decoding;
using DetailFlow.Core.Imaging;
using DetailFlow.Core.Tokenizer;

namespace DetailFlow.Cli.Commands;

/// <summary>
/// <c>detailflow sample</c>: class-conditional samples from a trained GPT + tokenizer (official recompute sampler,
/// spec §7), written as <c>samples.png</c> (one row per class) and <c>previews.png</c> (one row per sample, one column
/// per prefix length of the schedule: the first t codes decoded at d_t and shown at the image size, spec §8).
/// </summary>
public sealed class SampleCommand : BaseCommand
{
    private static readonly Option<FileInfo> s_gpt = new("--gpt") { Description = "GPT checkpoint (.pt of a train-ar run or converted); 'ema' weights unless --gpt-no-ema", Required = true };
    private static readonly Option<bool> s_gptNoEma = new("--gpt-no-ema") { Description = "Read the GPT's 'model' entry instead of 'ema'" };
    private static readonly Option<FileInfo> s_tokenizer = new("--tokenizer") { Description = "Tokenizer checkpoint ('model' entry)", Required = true };
    private static readonly Option<DirectoryInfo> s_out = new("--out") { Description = "Output folder for samples.png and previews.png", Required = true };
    private static readonly Option<string?> s_classes = new("--classes") { Description = "Comma-separated class labels (default: every class)" };
    private static readonly Option<int> s_perClass = new("--per-class") { Description = "Samples per class", DefaultValueFactory = _ => 4 };
    private static readonly Option<double> s_cfg = new("--cfg") { Description = "Classifier-free guidance scale (1 = off)", DefaultValueFactory = _ => 1.5 };
    private static readonly Option<double> s_temperature = new("--temperature") { Description = "Sampling temperature", DefaultValueFactory = _ => 1.0 };
    private static readonly Option<int?> s_topK = new("--top-k") { Description = "Keep the k most likely codes (default: all)" };
    private static readonly Option<double> s_topP = new("--top-p") { Description = "Nucleus sampling mass", DefaultValueFactory = _ => 1.0 };
    private static readonly Option<long> s_seed = new("--seed") { Description = "Seed of sample i is seed + i", DefaultValueFactory = _ => 0 };

    public SampleCommand(IConsoleUi ui) : base("sample", "Generate a grid of class-conditional samples and their coarse-to-fine prefix previews", ui)
    {
        foreach (var o in new Option[] { TrainingCommandOptions.Config, s_gpt, s_gptNoEma, s_tokenizer, s_out, s_classes, s_perClass, s_cfg, s_temperature, s_topK, s_topP, s_seed })
            Options.Add(o);
        foreach (var o in DecoderBackendOptions.All) Options.Add(o);
    }

    protected override Task<int> ExecuteAsync(ParseResult parse, CancellationToken cancellationToken)
    {
        int perClass = parse.GetValue(s_perClass);
        if (perClass < 1) throw new ArgumentOutOfRangeException("--per-class", perClass, "at least one sample per class");
        using var gpt = GptTransformer.Load(parse.GetValue(s_gpt)!.FullName, entry: parse.GetValue(s_gptNoEma) ? CheckpointEntry.ModelModuleOrStateDict : CheckpointEntry.Ema);
        using var vq = VqModel.Load(parse.GetValue(s_tokenizer)!.FullName);
        if (vq.NumLatentTokens != gpt.Config.BlockSize || vq.Config.CodebookSize != gpt.Config.VocabSize)
            throw new ArgumentException($"tokenizer (N {vq.NumLatentTokens}, V {vq.Config.CodebookSize}) and GPT (block {gpt.Config.BlockSize}, vocab {gpt.Config.VocabSize}) do not match");
        var classes = parse.GetValue(s_classes) is { } list
            ? list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(c => long.Parse(c, CultureInfo.InvariantCulture)).ToArray()
            : Enumerable.Range(0, gpt.Config.NumClasses).Select(c => (long)c).ToArray();
        var rows = classes.SelectMany(c => Enumerable.Repeat(c, perClass)).ToArray();
        long seed = parse.GetValue(s_seed);
        var options = rows.Select((_, i) => new SamplingOptions
        {
            CfgScale = parse.GetValue(s_cfg), Temperature = parse.GetValue(s_temperature), TopK = parse.GetValue(s_topK),
            TopP = parse.GetValue(s_topP), Seed = seed + i,
        }).ToArray();
        var codes = Ui.Progress("sample", 1, 1, report =>
        {
            var result = EngineGeneration.Generate(gpt, rows, options, cancellationToken);
            report(1, $"{rows.Length} samples");
            return result;
        });

        var schedule = ResolutionSchedule.For(vq.Config);
        using var decoder = DecoderBackendOptions.Create(parse, vq);
        var renderer = new PreviewRenderer(new PreviewDecoder(decoder, schedule.DecoderResolution));
        int size = vq.Config.ImageSize;
        var previewRows = codes.Select(c => (IReadOnlyList<RgbImage>)renderer
            .Render(schedule.ValidPrefixes.Select(p => new PreviewItem(c, p)).ToArray(), displaySize: size)
            .Select(p => p.Image).ToArray()).ToArray();
        var finals = previewRows.Select(r => r[^1]).ToArray();
        var sampleRows = Enumerable.Range(0, classes.Length).Select(i => (IReadOnlyList<RgbImage>)finals.Skip(i * perClass).Take(perClass).ToArray()).ToArray();

        string dir = parse.GetValue(s_out)!.FullName;
        Directory.CreateDirectory(dir);
        File.WriteAllBytes(Path.Combine(dir, "samples.png"), PngEncoder.Compact.Encode(ImageGrid.Compose(sampleRows)));
        File.WriteAllBytes(Path.Combine(dir, "previews.png"), PngEncoder.Compact.Encode(ImageGrid.Compose(previewRows)));
        Ui.Success($"{rows.Length} samples of classes {string.Join(",", classes)} → {Path.Combine(dir, "samples.png")}; prefixes {string.Join(",", schedule.ValidPrefixes)} → previews.png");
        return Task.FromResult(ExitCodes.Success);
    }
}
