using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace DetailFlow.Core.Gpt;

/// <summary>
/// The G − 1 learned "spe" tokens inserted after the first C codes (<c>SpecialTokenEmbedding</c>, spec §6.4).
/// </summary>
public sealed class SpecialTokenEmbedding : nn.Module<Tensor, Tensor>
{
    public readonly Embedding special_embeddings;

    public SpecialTokenEmbedding(GptConfig config) : base(nameof(SpecialTokenEmbedding))
    {
        special_embeddings = nn.Embedding(config.NumSpecialTokens, config.Dim);
        RegisterComponents();
    }

    /// <summary>special-token indices (any shape, values in [0, G − 1)) → [..., D].</summary>
    public override Tensor forward(Tensor index) => special_embeddings.forward(index);
}
