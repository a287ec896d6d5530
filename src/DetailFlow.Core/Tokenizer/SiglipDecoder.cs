using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace DetailFlow.Core.Tokenizer;

/// <summary>
/// The tokenizer decoder (official <c>SiglipDecoder</c>, spec §2.8): g² copies of <c>mask_token</c> plus the resized
/// position table, followed by the first t latents plus <c>latent_pos_embed[:t]</c>; full attention (the released
/// decoders are non-causal and use no mask); <c>post_layernorm</c>; the first g² outputs go through <c>to_pixel</c>.
/// </summary>
public sealed class SiglipDecoder : nn.Module
{
    public readonly Parameter latent_pos_embed;
    public readonly Parameter mask_token;
    public readonly SiglipVisionTower visual_model;
    public readonly ToPixel to_pixel;

    public SiglipDecoder(TokenizerConfig config) : base(nameof(SiglipDecoder))
    {
        var vit = config.Dec;
        NumLatentTokens = config.NumLatentTokens;
        PatchSize = vit.PatchSize;
        latent_pos_embed = new Parameter(torch.randn(1, NumLatentTokens, vit.HiddenSize) * 0.02);
        mask_token = new Parameter(torch.randn(1, 1, vit.HiddenSize) * 0.02);
        visual_model = new SiglipVisionTower(vit, withPatchEmbedding: false);
        to_pixel = new ToPixel(vit.HiddenSize, vit.PatchSize);
        RegisterComponents();
    }

    public int NumLatentTokens { get; }
    public int PatchSize { get; }

    /// <summary>
    /// Decodes <paramref name="latents"/> [B, t', D] (already through <c>post_quant_conv</c>) using the first
    /// <paramref name="t"/> of them, at <paramref name="imageSize"/>² pixels → [B, 3, imageSize, imageSize].
    /// </summary>
    public Tensor Forward(Tensor latents, int t, int imageSize)
    {
        if (latents.dim() != 3) throw new ArgumentException($"latents must be [B, t', D], got [{string.Join(", ", latents.shape)}]", nameof(latents));
        if (t < 1 || t > latents.shape[1] || t > NumLatentTokens)
            throw new ArgumentOutOfRangeException(nameof(t), t, $"t must be in [1, min({latents.shape[1]} latents given, {NumLatentTokens})]");
        if (imageSize <= 0 || imageSize % PatchSize != 0)
            throw new ArgumentOutOfRangeException(nameof(imageSize), imageSize, $"image size must be a positive multiple of the patch size {PatchSize}");
        using var scope = NewDisposeScope();
        int g = imageSize / PatchSize;
        long b = latents.shape[0];
        var grid = (mask_token + visual_model.embeddings.PositionTable(g, g)).expand(b, -1, -1); // [B, g², D]
        var z = latents[.., ..t] + latent_pos_embed[.., ..t];                                    // [B, t, D]
        var h = visual_model.Forward(torch.cat([grid, z], dim: 1), additiveMask: null);          // [B, g² + t, D]
        return to_pixel.forward(h[.., ..(g * g)]).MoveToOuterDisposeScope();                     // [B, 3, s, s]
    }
}
