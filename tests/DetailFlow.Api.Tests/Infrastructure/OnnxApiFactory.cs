using System.Net;
using System.Net.Http.Json;
using DetailFlow.Api.Hosting;
using DetailFlow.Core.Decoding;
using SkiaSharp;

namespace DetailFlow.Api.Tests;

/// <summary>The service with ModelOptions:DecoderBackend = Onnx (decoder exported in memory, run by ONNX Runtime).</summary>
public sealed class OnnxApiFactory : ApiFactory
{
    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["ModelOptions:DecoderBackend"] = "Onnx",
        ["ModelOptions:OnnxThreads"] = "1",
    };
}
