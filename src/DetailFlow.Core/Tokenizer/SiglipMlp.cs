using DetailFlow.Core.Runtime;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace DetailFlow.Core.Tokenizer;

/// <summary>SigLIP2 MLP (spec §2.2): fc2(gelu_tanh(fc1(x))) — HF <c>gelu_pytorch_tanh</c>.</summary>
public sealed class SiglipMlp : nn.Module<Tensor, Tensor>
{
    public readonly Linear fc1;
    public readonly Linear fc2;

    public SiglipMlp(VitConfig config) : base(nameof(SiglipMlp))
    {
        fc1 = PackedLinear.WithGeluTanh(nn.Linear(config.HiddenSize, config.IntermediateSize));
        fc2 = nn.Linear(config.IntermediateSize, config.HiddenSize);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        return GemmRows.RowWise(x, h => PackedLinear.Forward(fc2, PackedLinear.ForwardGeluTanh(fc1, h))).MoveToOuterDisposeScope();
    }
}
