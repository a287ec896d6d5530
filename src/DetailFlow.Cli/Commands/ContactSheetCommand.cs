using System.CommandLine;
using DetailFlow.Cli.Console;
using DetailFlow.Core.Generation;
using DetailFlow.Core.Gpt;
using DetailFlow.Core.Decoding;
using DetailFlow.Core.Imaging;
using DetailFlow.Core.Tokenizer;

namespace DetailFlow.Cli.Commands;

/// <summary>
/// <c>detailflow contact-sheet</c>: one generated sample per class (rows) decoded at every scheduled prefix length
/// (columns), each preview at its own resolution d_t, nearest-upscaled to a common cell size.
/// </summary>
public sealed class ContactSheetCommand : BaseCommand
{
    private static readonly Option<FileInfo> s_gpt = new("--gpt") { Description = "GPT (converted safetensors or a train-ar .pt)", DefaultValueFactory = _ => new FileInfo("models/default/gpt.safetensors") };
    private static readonly Option<FileInfo> s_tokenizer = new("--tokenizer") { Description = "Tokenizer (converted safetensors or .pt)", DefaultValueFactory = _ => new FileInfo("models/default/tokenizer.safetensors") };
    private static readonly Option<FileInfo> s_out = new("--out") { Description = "PNG to write", DefaultValueFactory = _ => new FileInfo("contact-sheet.png") };
    private static readonly Option<int> s_cell = new("--cell") { Description = "Cell size in pixels (nearest upscaling)", DefaultValueFactory = _ => 64 };
    private static readonly Option<double> s_cfg = new("--cfg") { Description = "Classifier-free guidance scale (2.5: the default model's evaluation setting)", DefaultValueFactory = _ => 2.5 };
    private static readonly Option<double> s_temperature = new("--temperature") { Description = "Sampling temperature", DefaultValueFactory = _ => 1.0 };
    private static readonly Option<long> s_seed = new("--seed") { Description = "Seed of row i is seed + i", DefaultValueFactory = _ => 0 };

    public ContactSheetCommand(IConsoleUi ui) : base("contact-sheet", "Write a PNG: rows = classes, columns = scheduled prefix lengths (coarse to fine)", ui)
    {
        foreach (var o in new Option[] { s_gpt, s_tokenizer, s_out, s_cell, s_cfg, s_temperature, s_seed })
            Options.Add(o);
        foreach (var o in DecoderBackendOptions.All) Options.Add(o);
    }

    protected override Task<int> ExecuteAsync(ParseResult parse, CancellationToken cancellationToken)
    {
        using var gpt = GptTransformer.Load(parse.GetValue(s_gpt)!.FullName);
        using var vq = VqModel.Load(parse.GetValue(s_tokenizer)!.FullName);
        var classes = Enumerable.Range(0, gpt.Config.NumClasses).Select(c => (long)c).ToArray();
        long seed = parse.GetValue(s_seed);
        var options = classes.Select((_, i) => new SamplingOptions { CfgScale = parse.GetValue(s_cfg), Temperature = parse.GetValue(s_temperature), Seed = seed + i }).ToArray();
        var codes = EngineGeneration.Generate(gpt, classes, options, cancellationToken);
        var schedule = ResolutionSchedule.For(vq.Config);
        using var decoder = DecoderBackendOptions.Create(parse, vq);
        var renderer = new PreviewRenderer(new PreviewDecoder(decoder, schedule.DecoderResolution));
        int cell = parse.GetValue(s_cell);
        var rows = codes.Select(c => (IReadOnlyList<RgbImage>)renderer
            .Render(schedule.ValidPrefixes.Select(p => new PreviewItem(c, p)).ToArray())
            .Select(p => Nearest(p.Image, cell)).ToArray()).ToArray();
        var file = parse.GetValue(s_out)!;
        file.Directory?.Create();
        File.WriteAllBytes(file.FullName, PngEncoder.Compact.Encode(ImageGrid.Compose(rows)));
        Ui.Success($"{classes.Length} classes × prefixes {string.Join(",", schedule.ValidPrefixes)} (resolutions {string.Join(",", schedule.ValidPrefixes.Select(p => schedule.DecoderResolution(p)))}) → {file.FullName}");
        return Task.FromResult(ExitCodes.Success);
    }

    internal static RgbImage Nearest(RgbImage image, int size)
    {
        var pixels = new byte[3 * size * size];
        for (int y = 0; y < size; y++)
        for (int x = 0; x < size; x++)
        {
            int sx = x * image.Width / size, sy = y * image.Height / size;
            Array.Copy(image.Pixels, 3 * (sy * image.Width + sx), pixels, 3 * (y * size + x), 3);
        }
        return new RgbImage(size, size, pixels);
    }
}
