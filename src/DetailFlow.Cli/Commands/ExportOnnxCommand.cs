using System.CommandLine;
using System.Globalization;
using DetailFlow.Cli.Console;
using DetailFlow.Core.Decoding;
using DetailFlow.Core.Generation;
using DetailFlow.Core.Onnx;
using DetailFlow.Core.Tokenizer;
using static TorchSharp.torch;

namespace DetailFlow.Cli.Commands;

/// <summary>
/// <c>detailflow export-onnx --tokenizer T --out decoder.onnx</c>: the tokenizer's decoder (codes → pixels) as one ONNX
/// graph with dynamic batch, prefix length and patch grid (<see cref="DecoderOnnxExport"/>), from the loaded weights;
/// then, unless <c>--no-verify</c>, every scheduled prefix decoded by ONNX Runtime from the written file against the
/// TorchSharp decoder.
/// </summary>
public sealed class ExportOnnxCommand : BaseCommand
{
    private static readonly Option<FileInfo> s_tokenizer = new("--tokenizer") { Description = "Tokenizer (converted safetensors or .pt)", DefaultValueFactory = _ => new FileInfo("models/default/tokenizer.safetensors") };
    private static readonly Option<FileInfo> s_out = new("--out") { Description = "ONNX file to write", DefaultValueFactory = _ => new FileInfo("decoder.onnx") };
    private static readonly Option<bool> s_noVerify = new("--no-verify") { Description = "Skip the ORT-vs-TorchSharp check of every scheduled prefix" };

    public ExportOnnxCommand(IConsoleUi ui) : base("export-onnx", "Export the tokenizer decoder as an ONNX model (one graph for every resolution)", ui)
    {
        foreach (var o in new Option[] { s_tokenizer, s_out, s_noVerify })
            Options.Add(o);
    }

    protected override Task<int> ExecuteAsync(ParseResult parse, CancellationToken cancellationToken)
    {
        using var vq = VqModel.Load(parse.GetValue(s_tokenizer)!.FullName, decoderOnly: true);
        var file = parse.GetValue(s_out)!;
        file.Directory?.Create();
        DecoderOnnxExport.Export(vq, file.FullName);
        file.Refresh();
        Ui.Success(string.Create(CultureInfo.InvariantCulture,
            $"decoder ({vq.Config.Dec.NumHiddenLayers} layers × {vq.Config.Dec.HiddenSize}, N = {vq.NumLatentTokens}, patch {vq.Config.Dec.PatchSize}; opset {DecoderOnnxExport.Opset}) → {file.FullName} ({file.Length / 1e6:F1} MB)"));
        if (parse.GetValue(s_noVerify)) return Task.FromResult(ExitCodes.Success);

        using var onnx = OnnxDecoderBackend.Load(vq, file.FullName);
        using var torchBackend = new TorchDecoderBackend(vq);
        var schedule = ResolutionSchedule.For(vq.Config);
        using var generator = new TorchSharp.torch.Generator(0);
        double worst = 0;
        foreach (var group in schedule.ValidPrefixes.GroupBy(schedule.DecoderResolution))
        {
            cancellationToken.ThrowIfCancellationRequested();
            int[] prefixes = group.ToArray();
            using var scope = NewDisposeScope();
            var codes = randint(0, vq.Config.CodebookSize, [prefixes.Length, prefixes.Max()], dtype: int64, generator: generator);
            worst = Math.Max(worst, (onnx.Decode(codes, prefixes, group.Key) - torchBackend.Decode(codes, prefixes, group.Key)).abs().max().item<float>());
        }
        string summary = string.Create(CultureInfo.InvariantCulture,
            $"verified {schedule.ValidPrefixes.Count} scheduled prefixes: max |ORT − TorchSharp| = {worst:E2} (tolerance 1e-4)");
        if (worst > 1e-4)
        {
            Ui.Error(summary);
            return Task.FromResult(ExitCodes.CheckFailed);
        }
        Ui.Success(summary);
        return Task.FromResult(ExitCodes.Success);
    }
}
