using System.CommandLine;
using DetailFlow.Cli.Console;
using DetailFlow.Training.Evaluation;
using DetailFlow.Training.Evaluation.Inception;

namespace DetailFlow.Cli.Commands;

/// <summary>Options the evaluation commands share, and how they get their feature network.</summary>
internal static class EvalOptions
{
    public static readonly Option<FileInfo> Inception = new("--inception")
    {
        Description = $"FID Inception-v3 weights: {InceptionFeatureExtractor.WeightsFileName} (from {InceptionFeatureExtractor.WeightsUrl}) or its convert-inception safetensors",
        DefaultValueFactory = _ => new FileInfo(Path.Combine("models", "inception", InceptionFeatureExtractor.WeightsFileName)),
    };

    public static readonly Option<string> Resize = new("--resize")
    {
        Description = "Inception preprocessing: torch-fidelity (torchmetrics, the official rFID; TF1 bilinear, (x-128)/128) or pytorch-fid (bilinear, 2x/255-1)",
        DefaultValueFactory = _ => "torch-fidelity",
    };

    public static readonly Option<int> BatchSize = new("--batch-size") { Description = "Images per batch", DefaultValueFactory = _ => 16 };
    public static readonly Option<FileInfo?> Json = new("--json") { Description = "Also write the numbers to this JSON file" };

    static EvalOptions() => Resize.AcceptOnlyFromAmong("torch-fidelity", "pytorch-fid");

    public static IFeatureExtractor LoadInception(string weightsPath, InceptionResize resize) => InceptionFeatureExtractor.Load(weightsPath, resize);

    /// <summary>The feature network, or null after reporting which weights file to provide.</summary>
    public static IFeatureExtractor? TryCreate(FeatureExtractorFactory factory, ParseResult parse, IConsoleUi ui)
    {
        var resize = parse.GetValue(Resize) == "pytorch-fid" ? InceptionResize.PytorchFid : InceptionResize.TorchFidelity;
        try
        {
            return factory(parse.GetValue(Inception)!.FullName, resize);
        }
        catch (FileNotFoundException e)
        {
            ui.Error(e.Message);
            return null;
        }
    }

    public static void CheckBatchSize(ParseResult parse)
    {
        if (parse.GetValue(BatchSize) < 1) throw new ArgumentOutOfRangeException("--batch-size", parse.GetValue(BatchSize), "batch size must be positive");
    }
}
