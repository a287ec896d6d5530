using TorchSharp;
using static TorchSharp.torch;

namespace DetailFlow.Core.Gpt;

/// <summary>
/// Pre-norm block (spec §6.2): <c>h = x + attention(attention_norm(x))</c>, <c>out = h + feed_forward(ffn_norm(h))</c>.
/// Residual dropout sits at the end of <see cref="Attention"/>, FFN dropout at the end of <see cref="FeedForward"/>
/// (identities in eval mode); drop-path is 0 in every official config and not ported.
/// </summary>
public sealed class TransformerBlock : nn.Module
{
    public readonly Attention attention;
    public readonly FeedForward feed_forward;
    public readonly RmsNorm attention_norm;
    public readonly RmsNorm ffn_norm;

    public TransformerBlock(GptConfig config, int layerIndex) : base(nameof(TransformerBlock))
    {
        attention = new Attention(config, layerIndex);
        feed_forward = new FeedForward(config);
        attention_norm = new RmsNorm(config.Dim, config.NormEps);
        ffn_norm = new RmsNorm(config.Dim, config.NormEps);
        RegisterComponents();
    }

    /// <summary>x [B, L, D] → [B, L, D].</summary>
    public Tensor Forward(Tensor x, AttentionContext context)
    {
        using var scope = torch.NewDisposeScope();
        var h = x + attention.Forward(attention_norm.forward(x), context);
        return (h + feed_forward.forward(ffn_norm.forward(h))).MoveToOuterDisposeScope();
    }
}
