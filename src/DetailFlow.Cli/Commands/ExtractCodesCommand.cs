using System.CommandLine;
using DetailFlow.Cli.Console;
using DetailFlow.Core.Checkpoints;
using DetailFlow.Core.Tokenizer;
using DetailFlow.Training.Gpt;

namespace DetailFlow.Cli.Commands;

/// <summary>
/// <c>detailflow extract-codes</c> (official <c>extract_codes_c2i.py</c>, spec §9.2): tokenizer codes of every image
/// (centre crop + flip, or ten-crop), with the self-correction triplet, into a code folder for <c>train-ar</c>.
/// </summary>
public sealed class ExtractCodesCommand : BaseCommand
{
    private static readonly Option<FileInfo> s_tokenizer = new("--tokenizer") { Description = "Tokenizer checkpoint (.pt of a run, or converted .safetensors); config found beside it", Required = true };
    private static readonly Option<bool> s_ema = new("--ema") { Description = "Read the checkpoint's 'ema' weights (official scripts use 'model', --vq-ema False)" };
    private static readonly Option<DirectoryInfo> s_out = new("--out") { Description = "Code folder: <dataset><size>_codes.npy, <dataset><size>_labels.npy, <dataset>.json", Required = true };
    private static readonly Option<string> s_dataset = new("--dataset") { Description = "Dataset name used in the file names", DefaultValueFactory = _ => "imagenet" };
    private static readonly Option<bool> s_tenCrop = new("--ten-crop") { Description = "Centre crop to size·crop-range, then TenCrop (10 codes per image); default: centre crop + horizontal flip (2)" };
    private static readonly Option<double> s_cropRange = new("--crop-range") { Description = "Expansion of the centre crop before TenCrop", DefaultValueFactory = _ => 1.1 };
    private static readonly Option<int> s_seed = new("--seed") { Description = "Seed of the self-correction noise", DefaultValueFactory = _ => 0 };

    public ExtractCodesCommand(IConsoleUi ui) : base("extract-codes", "Encode a data set into tokenizer codes for AR training", ui)
    {
        foreach (var o in new Option[] { TrainingCommandOptions.Config, s_tokenizer, s_ema, s_out, s_dataset, s_tenCrop, s_cropRange, s_seed }.Concat(DataSourceOptions.All))
            Options.Add(o);
    }

    protected override Task<int> ExecuteAsync(ParseResult parse, CancellationToken cancellationToken)
    {
        var (source, _) = DataSourceOptions.Open(parse);
        using var model = VqModel.Load(parse.GetValue(s_tokenizer)!.FullName, entry: parse.GetValue(s_ema) ? CheckpointEntry.Ema : CheckpointEntry.Model);
        var options = new CodeExtractionOptions
        {
            TenCrop = parse.GetValue(s_tenCrop), CropRange = parse.GetValue(s_cropRange), Seed = parse.GetValue(s_seed),
            Dataset = parse.GetValue(s_dataset)!,
        };
        var result = Ui.Progress("extract", source.Count, plainEvery: Math.Max(1, source.Count / 20), report =>
            CodeExtractor.Extract(model, source, options, (done, total) => report(done, ""), cancellationToken));
        string dir = parse.GetValue(s_out)!.FullName;
        result.Codes.Save(dir, options.Dataset, model.Config.ImageSize, result.Info);
        foreach (var s in result.Skipped) Ui.Info($"skipped {s.Name}: {s.Reason}");
        Ui.Success($"{result.Codes.Count} images × {result.Codes.Augmentations} crops × {result.Codes.Tokens} codes × {result.Codes.Columns} columns → {dir} ({result.Skipped.Count} skipped)");
        return Task.FromResult(ExitCodes.Success);
    }
}
