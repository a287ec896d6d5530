using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace DetailFlow.Core.Gpt;

/// <summary>
/// The class-token table (<c>LabelEmbedder</c>, spec §6.4): <see cref="GptConfig.ClassTableRows"/> rows, the last one
/// (<see cref="GptConfig.NullClass"/>) being the CFG null class. In <c>train()</c> mode each label is replaced by the
/// null class with probability <c>class_dropout_prob</c> (official <c>token_drop</c>, drawn from the global torch
/// generator), which teaches the unconditional branch of classifier-free guidance.
/// </summary>
public sealed class LabelEmbedder : nn.Module<Tensor, Tensor>
{
    public readonly Embedding embedding_table;

    public LabelEmbedder(GptConfig config) : base(nameof(LabelEmbedder))
    {
        embedding_table = nn.Embedding(config.ClassTableRows, config.Dim);
        _dropoutProb = config.ClassDropoutProb;
        _nullClass = config.NullClass;
        RegisterComponents();
    }

    /// <summary>labels [B] long → [B, D].</summary>
    public override Tensor forward(Tensor labels)
    {
        if (!training || _dropoutProb <= 0) return embedding_table.forward(labels);
        using var scope = torch.NewDisposeScope();
        var drop = torch.rand(labels.shape[0], device: labels.device).lt(_dropoutProb); // [B]
        var dropped = torch.where(drop, torch.full_like(labels, _nullClass), labels);
        return embedding_table.forward(dropped).MoveToOuterDisposeScope();
    }

    private readonly double _dropoutProb;
    private readonly long _nullClass;
}
