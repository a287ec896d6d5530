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

    /// <summary>Sequence length (g² + t) from which a decode attends head by head (<see cref="HeadwiseProbe"/>); <see cref="int.MaxValue"/>: never.</summary>
    public int HeadwiseFromTokens
    {
        get => visual_model.encoder.HeadwiseFromTokens;
        set => visual_model.encoder.HeadwiseFromTokens = value;
    }

    /// <summary>
    /// Decodes <paramref name="latents"/> [B, t', D] (already through <c>post_quant_conv</c>) using the first
    /// <paramref name="t"/> of them, at <paramref name="imageSize"/>² pixels → [B, 3, imageSize, imageSize].
    /// </summary>
    public Tensor Forward(Tensor latents, int t, int imageSize)
    {
        CheckLatents(latents);
        CheckPrefix(t, latents.shape[1], nameof(t));
        int g = GridOf(imageSize);
        using var scope = NewDisposeScope();
        return Run(latents, t, keyMask: null, g).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Like <see cref="Forward(Tensor, int, int)"/> with one prefix length per batch row: row b uses its first
    /// <c>prefixLengths[b]</c> latents. Rows are padded to the longest prefix and the padded latents are blocked as
    /// attention keys, so every row equals its own unpadded decode (full attention over g² + t_b tokens).
    /// </summary>
    public Tensor Forward(Tensor latents, IReadOnlyList<int> prefixLengths, int imageSize)
    {
        CheckLatents(latents);
        ArgumentNullException.ThrowIfNull(prefixLengths);
        if (prefixLengths.Count != latents.shape[0])
            throw new ArgumentException($"{prefixLengths.Count} prefix lengths for a batch of {latents.shape[0]}", nameof(prefixLengths));
        foreach (int t in prefixLengths) CheckPrefix(t, latents.shape[1], nameof(prefixLengths));
        int g = GridOf(imageSize);
        int longest = prefixLengths.Max();
        using var scope = NewDisposeScope();
        if (prefixLengths.All(t => t == longest)) return Run(latents, longest, keyMask: null, g).MoveToOuterDisposeScope();
        var keyPosition = torch.arange(g * g + longest, device: latents.device).unsqueeze(0);                 // [1, L]
        var keyLimit = torch.tensor(prefixLengths.Select(t => (long)(g * g + t)).ToArray(), device: latents.device).unsqueeze(1); // [B, 1]
        var blocked = keyPosition.ge(keyLimit);                                                               // [B, L]
        var keyMask = XzAttentionMask.ToAdditive(blocked, latents.dtype).view(latents.shape[0], 1, 1, -1);   // [B, 1, 1, L]
        return Run(latents, longest, keyMask, g).MoveToOuterDisposeScope();
    }

    private Tensor Run(Tensor latents, int t, Tensor? keyMask, int g)
    {
        long b = latents.shape[0];
        var grid = (mask_token + visual_model.embeddings.PositionTable(g, g)).expand(b, -1, -1); // [B, g², D]
        var z = latents[.., ..t] + latent_pos_embed[.., ..t];                                    // [B, t, D]
        var h = visual_model.Forward(torch.cat([grid, z], dim: 1), keyMask);                     // [B, g² + t, D]
        return to_pixel.call(h[.., ..(g * g)]);                                                  // [B, 3, s, s]
    }

    private static void CheckLatents(Tensor latents)
    {
        if (latents.dim() != 3) throw new ArgumentException($"latents must be [B, t', D], got [{string.Join(", ", latents.shape)}]", nameof(latents));
    }

    private void CheckPrefix(int t, long available, string name)
    {
        if (t < 1 || t > available || t > NumLatentTokens)
            throw new ArgumentOutOfRangeException(name, t, $"prefix length must be in [1, min({available} latents given, {NumLatentTokens})]");
    }

    private int GridOf(int imageSize)
    {
        if (imageSize <= 0 || imageSize % PatchSize != 0)
            throw new ArgumentOutOfRangeException(nameof(imageSize), imageSize, $"image size must be a positive multiple of the patch size {PatchSize}");
        return imageSize / PatchSize;
    }
}
