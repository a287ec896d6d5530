using System.CommandLine;
using System.Text.Json;
using DetailFlow.Cli.Console;
using DetailFlow.Core.Tokenizer;
using DetailFlow.Training.Data;
using DetailFlow.Training.Evaluation;

namespace DetailFlow.Cli.Commands;

/// <summary>
/// <c>detailflow eval-tokenizer</c> (official <c>scripts/eval_tokenizer.sh</c>, clean path): reconstructs an ImageFolder
/// (centre crop to the tokenizer's size, all N tokens) into a resumable <c>&lt;out&gt;/reconstructions/</c>, and reports
/// rFID (FID Inception), PSNR and SSIM. Writes <c>real_stats.npz</c> (usable as an <c>eval-c2i --reference</c>) and
/// <c>reconstruction_stats.npz</c>.
/// </summary>
public sealed class EvalTokenizerCommand : BaseCommand
{
    private static readonly Option<FileInfo> s_tokenizer = new("--tokenizer") { Description = "Tokenizer checkpoint (.pt 'model' entry, or converted safetensors)", Required = true };
    private static readonly Option<DirectoryInfo> s_data = new("--data") { Description = "Validation images as an ImageFolder (<root>/<class>/<image>), e.g. ImageNet val", Required = true };
    private static readonly Option<DirectoryInfo> s_out = new("--out") { Description = "Output folder: reconstructions/, real_stats.npz, reconstruction_stats.npz", Required = true };
    private static readonly Option<int?> s_limit = new("--limit") { Description = "Evaluate only the first N images (default: all; the official run uses the 50,000 ImageNet val images)" };

    private readonly FeatureExtractorFactory _extractor;

    public EvalTokenizerCommand(IConsoleUi ui, FeatureExtractorFactory? extractor = null)
        : base("eval-tokenizer", "Tokenizer reconstruction quality: rFID, PSNR, SSIM over an image folder", ui)
    {
        _extractor = extractor ?? EvalOptions.LoadInception;
        foreach (var o in new Option[] { TrainingCommandOptions.Config, s_tokenizer, s_data, s_out, s_limit, EvalOptions.Inception, EvalOptions.Resize, EvalOptions.BatchSize, EvalOptions.Json })
            Options.Add(o);
    }

    protected override Task<int> ExecuteAsync(ParseResult parse, CancellationToken cancellationToken)
    {
        EvalOptions.CheckBatchSize(parse);
        using var extractor = EvalOptions.TryCreate(_extractor, parse, Ui);
        if (extractor is null) return Task.FromResult(ExitCodes.InvalidInput);
        var source = new ImageFolderSource(parse.GetValue(s_data)!.FullName);
        int count = Math.Min(parse.GetValue(s_limit) ?? source.Count, source.Count);
        if (count < 2) throw new ArgumentOutOfRangeException("--limit", count, "rFID needs at least 2 images");
        using var vq = VqModel.Load(parse.GetValue(s_tokenizer)!.FullName);
        vq.eval();
        string outDir = parse.GetValue(s_out)!.FullName;
        var samples = new SampleFolder(Path.Combine(outDir, "reconstructions"), vq.Config.ImageSize);
        var evaluation = new TokenizerEvaluation(vq, extractor) { BatchSize = parse.GetValue(EvalOptions.BatchSize) };
        var started = DateTime.UtcNow;
        var result = Ui.Progress("reconstruct", count, 1000, report => evaluation.Run(source, count, samples, report, cancellationToken));
        using (result.Real) using (result.Reconstructions)
        {
            result.Real.Save(Path.Combine(outDir, "real_stats.npz"));
            result.Reconstructions.Save(Path.Combine(outDir, "reconstruction_stats.npz"));
        }
        Ui.Table(["images", "reconstructed now", "skipped (unreadable)", "rFID", "PSNR (dB)", "SSIM"],
            [[result.Images.ToString(), result.Reconstructed.ToString(), result.Skipped.ToString(), result.Rfid.ToString("F4"), result.Psnr.ToString("F3"), result.Ssim.ToString("F4")]]);
        Ui.Line($"rFID {result.Rfid:F4}  PSNR {result.Psnr:F3} dB  SSIM {result.Ssim:F4}  ({result.Images} images, N = {vq.NumLatentTokens} tokens, {extractor.Name}, {(DateTime.UtcNow - started).TotalSeconds:F0} s)");
        if (parse.GetValue(EvalOptions.Json) is { } json)
            File.WriteAllText(json.FullName, JsonSerializer.Serialize(new
            {
                images = result.Images, reconstructed = result.Reconstructed, skipped = result.Skipped, rfid = result.Rfid, psnr_db = result.Psnr, ssim = result.Ssim,
                tokens = vq.NumLatentTokens, features = extractor.Name,
            }, new JsonSerializerOptions { WriteIndented = true }));
        return Task.FromResult(ExitCodes.Success);
    }
}
