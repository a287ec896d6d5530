using System.CommandLine;
using DetailFlow.Core.Decoding;
using DetailFlow.Core.Tokenizer;

namespace DetailFlow.Cli.Commands;

/// <summary>
/// <c>--decoder-backend torch|onnx</c>, <c>--onnx-threads</c> and <c>--onnx-model</c>: the decoder backend every
/// decode of a command goes through (the same choice as the service's ModelOptions:DecoderBackend).
/// </summary>
public static class DecoderBackendOptions
{
    public static readonly Option<string> Backend = new("--decoder-backend")
    {
        Description = "Decoder backend: torch (TorchSharp modules) or onnx (the decoder exported from the loaded weights, on ONNX Runtime)",
        DefaultValueFactory = _ => "torch",
    };

    public static readonly Option<int?> OnnxThreads = new("--onnx-threads") { Description = "ONNX Runtime intra-op threads (default: one per core)" };

    public static readonly Option<FileInfo?> OnnxModel = new("--onnx-model") { Description = "An exported decoder (detailflow export-onnx) of the same tokenizer; default: export in memory" };

    public static IEnumerable<Option> All
    {
        get
        {
            Backend.AcceptOnlyFromAmong("torch", "onnx");
            return [Backend, OnnxThreads, OnnxModel];
        }
    }

    public static IDecoderBackend Create(ParseResult parse, VqModel model)
    {
        if (parse.GetValue(Backend) != "onnx") return new TorchDecoderBackend(model);
        var settings = new OnnxDecoderSettings { IntraOpThreads = parse.GetValue(OnnxThreads) ?? Environment.ProcessorCount };
        return parse.GetValue(OnnxModel) is { } file
            ? OnnxDecoderBackend.Load(model, file.FullName, settings)
            : OnnxDecoderBackend.Create(model, settings);
    }
}
