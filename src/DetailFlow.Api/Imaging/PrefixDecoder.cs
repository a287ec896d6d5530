using DetailFlow.Api.Hosting;
using TorchSharp;

namespace DetailFlow.Api.Imaging;

/// <summary>
/// Decodes code prefixes at their scheduled resolutions, one decoder call per prefix length (all rows of one length
/// share the resolution). Runs on the inference thread. Stands in for Core's <c>PreviewDecoder</c> until it is merged.
/// </summary>
public static class PrefixDecoder
{
    /// <summary>Pixels [−1, 1] → bytes: round((x + 1)·127.5) clamped to 0..255 (the official <c>to_pil</c> rule).</summary>
    public static IReadOnlyList<DecodedImage> Decode(LoadedModel model, IReadOnlyList<long[]> prefixes, int tokens)
    {
        int resolution = model.Schedule.DecoderResolution(tokens);
        using var noGrad = torch.no_grad();
        using var scope = torch.NewDisposeScope();
        var flat = prefixes.SelectMany(p => p.Take(tokens)).ToArray();
        var codes = torch.tensor(flat, [prefixes.Count, tokens], device: model.Tokenizer.Device);   // [B, t]
        var pixels = model.Tokenizer.Decode(codes, tokens, resolution).to(torch.float32);          // [B, 3, r, r]
        var bytes = pixels.add(1).mul(127.5).round().clamp(0, 255).to(torch.uint8)
            .permute(0, 2, 3, 1).contiguous().cpu();                                                  // [B, r, r, 3]
        var all = bytes.data<byte>().ToArray();
        int size = resolution * resolution * 3;
        return Enumerable.Range(0, prefixes.Count)
            .Select(i => new DecodedImage(tokens, resolution, all.AsSpan(i * size, size).ToArray())).ToArray();
    }
}
