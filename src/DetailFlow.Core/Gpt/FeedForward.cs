using DetailFlow.Core.Runtime;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace DetailFlow.Core.Gpt;

/// <summary>SwiGLU feed-forward (spec §6.2): <c>w2(silu(w1·x) ⊙ w3·x)</c>, width <see cref="GptConfig.FfnHidden"/>, no biases.</summary>
public sealed class FeedForward : nn.Module<Tensor, Tensor>
{
    public readonly Linear w1;
    public readonly Linear w3;
    public readonly Linear w2;
    public readonly Dropout ffn_dropout;

    public FeedForward(GptConfig config) : base(nameof(FeedForward))
    {
        w1 = nn.Linear(config.Dim, config.FfnHidden, hasBias: false);
        w3 = nn.Linear(config.Dim, config.FfnHidden, hasBias: false);
        w2 = nn.Linear(config.FfnHidden, config.Dim, hasBias: false);
        ffn_dropout = nn.Dropout(config.FfnDropoutP);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = torch.NewDisposeScope();
        return ffn_dropout.forward(GemmRows.RowWise(x, h => PackedLinear.Forward(w2, nn.functional.silu(PackedLinear.Forward(w1, h)) * PackedLinear.Forward(w3, h)))).MoveToOuterDisposeScope();
    }
}
