using System.CommandLine;
using DetailFlow.Cli.Console;
using DetailFlow.Training.Evaluation.Inception;
using TorchSharp;
using TorchSharp.PyBridge;

namespace DetailFlow.Cli.Commands;

/// <summary>
/// <c>detailflow convert-inception --pth pt_inception-2015-12-05-6726825d.pth --out inception.safetensors</c>: reads the
/// PyTorch pickle with the PyBridge unpickler, loads it key for key into the FID Inception-v3, and writes safetensors.
/// </summary>
public sealed class ConvertInceptionCommand : BaseCommand
{
    private static readonly Option<FileInfo> s_pth = new("--pth") { Description = $"The FID Inception weights {InceptionFeatureExtractor.WeightsFileName} (from {InceptionFeatureExtractor.WeightsUrl})", Required = true };
    private static readonly Option<FileInfo> s_out = new("--out") { Description = "Output .safetensors file", Required = true };

    public ConvertInceptionCommand(IConsoleUi ui) : base("convert-inception", "Convert the FID Inception-v3 weights (.pth) to safetensors, checked key for key", ui)
    {
        Options.Add(s_pth);
        Options.Add(s_out);
    }

    protected override Task<int> ExecuteAsync(ParseResult parse, CancellationToken cancellationToken)
    {
        var pth = parse.GetValue(s_pth)!;
        if (!pth.Exists)
        {
            Ui.Error(InceptionFeatureExtractor.MissingWeights(pth.FullName).Message);
            return Task.FromResult(ExitCodes.InvalidInput);
        }
        using var network = InceptionFeatureExtractor.LoadNetwork(pth.FullName);
        string output = parse.GetValue(s_out)!.FullName;
        Directory.CreateDirectory(Path.GetDirectoryName(output)!);
        using var scope = torch.NewDisposeScope();
        var tensors = network.state_dict().Where(kv => !kv.Key.EndsWith(".num_batches_tracked", StringComparison.Ordinal))
            .ToDictionary(kv => kv.Key, kv => kv.Value.detach().contiguous());
        Safetensors.SaveStateDict(output, tensors);
        Ui.Success($"{tensors.Count} tensors ({tensors.Values.Sum(t => t.numel()):N0} values) → {output}");
        return Task.FromResult(ExitCodes.Success);
    }
}
