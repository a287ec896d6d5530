using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace DetailFlow.Core.Tokenizer;

/// <summary>
/// The tokenizer encoder (official <c>SiglipEncoder</c>, spec §2.5): patch tokens (patch embedding + resized
/// position table) followed by m learned latent queries (<c>latent_tokens + latent_pos_embed</c>), the SigLIP2 layers
/// under the x/z mask (patches never read latents; latents group-causal), <c>post_layernorm</c>.
/// <c>refined_tokens</c> exists (self-correction training only) when the config has <c>correction_training</c>.
/// </summary>
public sealed class SiglipEncoder : nn.Module
{
    public readonly Parameter latent_pos_embed;
    public readonly Parameter latent_tokens;
    public readonly Parameter? refined_tokens;
    public readonly SiglipVisionTower visual_model;

    public SiglipEncoder(TokenizerConfig config) : base(nameof(SiglipEncoder))
    {
        var vit = config.Enc;
        NumLatentTokens = config.NumLatentTokens;
        GroupSize = config.GroupSize;
        CausalNum = config.EffectiveCausalNum;
        Causal = config.CausalEncoder;
        PatchSize = vit.PatchSize;
        latent_pos_embed = new Parameter(torch.randn(1, NumLatentTokens, vit.HiddenSize) * 0.02);
        latent_tokens = new Parameter(torch.randn(1, NumLatentTokens, vit.HiddenSize) * 0.02);
        if (config.CorrectionTraining) refined_tokens = new Parameter(torch.randn(1, NumLatentTokens, vit.HiddenSize) * 0.02);
        visual_model = new SiglipVisionTower(vit, withPatchEmbedding: true);
        RegisterComponents();
    }

    public int NumLatentTokens { get; }
    public int GroupSize { get; }
    public int CausalNum { get; }
    public bool Causal { get; }
    public int PatchSize { get; }

    /// <summary>Patchify + patch embedding + resized position table: [B, 3, H, W] → [B, (H/p)·(W/p), D].</summary>
    public Tensor EmbedImages(Tensor images)
    {
        using var scope = NewDisposeScope();
        var patches = PatchLayout.Patchify(images, PatchSize); // [B, gh·gw, p·p·3]
        int gh = (int)images.shape[2] / PatchSize, gw = (int)images.shape[3] / PatchSize;
        return visual_model.embeddings.EmbedPatches(patches, gh, gw).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Clean encoder pass with the first <paramref name="latentCount"/> latent queries. Returns the post-LayerNorm
    /// outputs of the patch tokens [B, n, D] and of the latents [B, m, D].
    /// </summary>
    public (Tensor HiddenStates, Tensor LatentTokens) Forward(Tensor images, int latentCount)
    {
        if (latentCount < 1 || latentCount > NumLatentTokens)
            throw new ArgumentOutOfRangeException(nameof(latentCount), latentCount, $"latent count must be in [1, {NumLatentTokens}]");
        if (Causal && latentCount % GroupSize != 0)
            throw new ArgumentOutOfRangeException(nameof(latentCount), latentCount, $"latent count must be a multiple of the group size {GroupSize}");
        using var scope = NewDisposeScope();
        var x = EmbedImages(images);                                  // [B, n, D]
        long b = x.shape[0];
        int n = (int)x.shape[1];
        var z = (latent_tokens[.., ..latentCount] + latent_pos_embed[.., ..latentCount]).expand(b, -1, -1); // [B, m, D]
        var sequence = torch.cat([x, z], dim: 1);                     // [B, n + m, D]
        Tensor? mask = Causal
            ? XzAttentionMask.ToAdditive(
                XzAttentionMask.Create(n, latentCount, zCausal: true, xSeeZ: false, zSeeX: true, GroupSize, CausalNum),
                sequence.dtype).to(sequence.device)                  // [n + m, n + m]
            : null;
        var h = visual_model.Forward(sequence, mask);                 // [B, n + m, D]
        var hidden = h[.., ..n];
        var latents = h[.., n..];
        return (hidden.MoveToOuterDisposeScope(), latents.MoveToOuterDisposeScope());
    }
}
