using DetailFlow.Core.Decoding;
using DetailFlow.Core.Tokenizer;
using TorchSharp;
using Xunit.Abstractions;

namespace DetailFlow.Core.Tests.Decoding;

/// <summary>
/// A DetailFlow-16-sized decoder (siglip2_base: 12 layers × 768, 128 latents, 256 px) with random weights: the ORT
/// decoder equals the TorchSharp decoder within 1e-4 at every scheduled prefix (one padded batch per resolution).
/// </summary>
public sealed class ReleasedSizeOnnxParityTests(ITestOutputHelper output)
{
    [Fact]
    public void EveryScheduledPrefixOfADetailFlow16SizedDecoderMatchesTorch()
    {
        torch.manual_seed(16);
        using var model = new VqModel(TokenizerPresets.DetailFlow16, decoderOnly: true);
        using var torchBackend = new TorchDecoderBackend(model);
        using var onnx = OnnxDecoderBackend.Create(model);
        var results = DecoderBackendParity.Compare(model, torchBackend, onnx, seed: 16);
        foreach (var r in results) output.WriteLine($"d={r.Resolution} t=[{string.Join(",", r.Prefixes)}] max|Δ|={r.MaxDiff:E2}");
        Assert.All(results, r => Assert.True(r.MaxDiff <= 1e-4, $"d={r.Resolution} prefixes [{string.Join(",", r.Prefixes)}]: max |Δ| {r.MaxDiff}"));
    }
}
