using static TorchSharp.torch;

namespace DetailFlow.Core.Tokenizer;

/// <summary>
/// Image ↔ patch-token layout shared by the encoder input and the decoder output (spec §2.3): tokens row-major over
/// the patch grid, the p·p·3 features of a patch ordered (py, px, channel) with the channel fastest. Official
/// <c>convert_image_to_patches</c> and <c>ToPixel.unpatchify</c>.
/// </summary>
public static class PatchLayout
{
    /// <summary>[B, C, H, W] → [B, (H/p)·(W/p), p·p·C].</summary>
    public static Tensor Patchify(Tensor images, int patchSize)
    {
        if (images.dim() != 4) throw new ArgumentException($"images must be [B, C, H, W], got [{string.Join(", ", images.shape)}]", nameof(images));
        if (patchSize <= 0) throw new ArgumentOutOfRangeException(nameof(patchSize), patchSize, "patch size must be positive");
        long b = images.shape[0], c = images.shape[1], h = images.shape[2], w = images.shape[3];
        if (h % patchSize != 0 || w % patchSize != 0)
            throw new ArgumentException($"image size {h}×{w} is not a multiple of the patch size {patchSize}", nameof(images));
        long gh = h / patchSize, gw = w / patchSize;
        return images.reshape(b, c, gh, patchSize, gw, patchSize) // [B, C, gh, p, gw, p]
            .permute(0, 2, 4, 3, 5, 1)                            // [B, gh, gw, py, px, C]
            .reshape(b, gh * gw, patchSize * patchSize * c);      // [B, gh·gw, p·p·C]
    }

    /// <summary>[B, g², p·p·3] → [B, 3, g·p, g·p] (square grid, 3 channels, as the official decoder assumes).</summary>
    public static Tensor Unpatchify(Tensor tokens, int patchSize)
    {
        if (tokens.dim() != 3) throw new ArgumentException($"tokens must be [B, L, p·p·3], got [{string.Join(", ", tokens.shape)}]", nameof(tokens));
        if (patchSize <= 0) throw new ArgumentOutOfRangeException(nameof(patchSize), patchSize, "patch size must be positive");
        long b = tokens.shape[0], l = tokens.shape[1];
        long g = (long)Math.Round(Math.Sqrt(l));
        if (g * g != l) throw new ArgumentException($"{l} tokens do not form a square grid", nameof(tokens));
        if (tokens.shape[2] != 3L * patchSize * patchSize)
            throw new ArgumentException($"token width {tokens.shape[2]} != 3·{patchSize}·{patchSize}", nameof(tokens));
        return tokens.reshape(b, g, g, patchSize, patchSize, 3) // [B, g, g, p, q, 3]
            .permute(0, 5, 1, 3, 2, 4)                          // [B, 3, g, p, g, q]  ('nhwpqc->nchpwq')
            .reshape(b, 3, g * patchSize, g * patchSize);       // [B, 3, g·p, g·p]
    }
}
