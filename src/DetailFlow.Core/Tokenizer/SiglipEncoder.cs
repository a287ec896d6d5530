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
        CheckLatentCount(latentCount);
        using var scope = NewDisposeScope();
        var queries = latent_tokens[.., ..latentCount].expand(images.shape[0], -1, -1); // [B, m, D]
        var (hidden, latents) = Run(images, queries);
        return (hidden.MoveToOuterDisposeScope(), latents.MoveToOuterDisposeScope());
    }

    /// <summary>
    /// The self-correction pass (official <c>forward(x, noise_token=…)</c>, spec §9.1 step 3c): the latent queries are
    /// <paramref name="prefixQueries"/> [B, q, D] (<c>refine_conv</c> of the partly noisy code vectors) followed by
    /// <c>refined_tokens[q : m]</c> — from index q on, not from 0 (spec §12 item 24) — plus <c>latent_pos_embed</c>.
    /// </summary>
    public (Tensor HiddenStates, Tensor LatentTokens) ForwardRefined(Tensor images, int latentCount, Tensor prefixQueries)
    {
        CheckLatentCount(latentCount);
        var refined = refined_tokens ?? throw new InvalidOperationException("this encoder has no refined_tokens: its config has correction_training = false");
        long q = prefixQueries.shape[1];
        if (prefixQueries.dim() != 3 || prefixQueries.shape[0] != images.shape[0] || q < 1 || q > latentCount)
            throw new ArgumentException($"prefix queries must be [{images.shape[0]}, 1..{latentCount}, D], got [{string.Join(", ", prefixQueries.shape)}]", nameof(prefixQueries));
        using var scope = NewDisposeScope();
        var rest = refined[.., (int)q..latentCount].expand(images.shape[0], -1, -1);      // [B, m − q, D]
        var (hidden, latents) = Run(images, torch.cat([prefixQueries.to(rest.dtype), rest], dim: 1));
        return (hidden.MoveToOuterDisposeScope(), latents.MoveToOuterDisposeScope());
    }

    private void CheckLatentCount(int latentCount)
    {
        if (latentCount < 1 || latentCount > NumLatentTokens)
            throw new ArgumentOutOfRangeException(nameof(latentCount), latentCount, $"latent count must be in [1, {NumLatentTokens}]");
        if (Causal && latentCount % GroupSize != 0)
            throw new ArgumentOutOfRangeException(nameof(latentCount), latentCount, $"latent count must be a multiple of the group size {GroupSize}");
    }

    /// <summary>Patches + (queries + latent_pos_embed) through the layers: queries [B, m, D] → ([B, n, D], [B, m, D]).</summary>
    private (Tensor HiddenStates, Tensor LatentTokens) Run(Tensor images, Tensor queries)
    {
        using var scope = NewDisposeScope();
        var x = EmbedImages(images);                                  // [B, n, D]
        int n = (int)x.shape[1];
        int latentCount = (int)queries.shape[1];
        var z = queries + latent_pos_embed[.., ..latentCount];        // [B, m, D]
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
