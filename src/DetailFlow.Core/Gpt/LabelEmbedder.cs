using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace DetailFlow.Core.Gpt;

/// <summary>
/// The class-token table (<c>LabelEmbedder</c>, spec §6.4): <see cref="GptConfig.ClassTableRows"/> rows, the last one
/// (<see cref="GptConfig.NullClass"/>) being the CFG null class. Label dropout is training-only and not ported.
/// </summary>
public sealed class LabelEmbedder : nn.Module<Tensor, Tensor>
{
    public readonly Embedding embedding_table;

    public LabelEmbedder(GptConfig config) : base(nameof(LabelEmbedder))
    {
        embedding_table = nn.Embedding(config.ClassTableRows, config.Dim);
        RegisterComponents();
    }

    /// <summary>labels [B] long → [B, D].</summary>
    public override Tensor forward(Tensor labels) => embedding_table.forward(labels);
}
