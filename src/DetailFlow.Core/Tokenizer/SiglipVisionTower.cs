using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace DetailFlow.Core.Tokenizer;

/// <summary>
/// The SigLIP2 vision transformer DetailFlow wraps (<c>visual_model</c>, HF <c>Siglip2VisionTransformer</c> without
/// head): <c>embeddings</c>, <c>encoder.layers</c>, <c>post_layernorm</c> applied to the whole sequence (spec §2.2,
/// §12 item 15).
/// </summary>
public sealed class SiglipVisionTower : nn.Module
{
    public readonly SiglipEmbeddings embeddings;
    public readonly SiglipLayerStack encoder;
    public readonly LayerNorm post_layernorm;

    public SiglipVisionTower(VitConfig config, bool withPatchEmbedding) : base(nameof(SiglipVisionTower))
    {
        Config = config;
        embeddings = new SiglipEmbeddings(config, withPatchEmbedding);
        encoder = new SiglipLayerStack(config);
        post_layernorm = nn.LayerNorm(config.HiddenSize, config.LayerNormEps);
        RegisterComponents();
    }

    public VitConfig Config { get; }

    /// <summary>Layers then <c>post_layernorm</c>: [B, L, D] → [B, L, D].</summary>
    public Tensor Forward(Tensor hiddenStates, Tensor? additiveMask)
    {
        using var scope = NewDisposeScope();
        return post_layernorm.forward(encoder.Forward(hiddenStates, additiveMask)).MoveToOuterDisposeScope();
    }
}
