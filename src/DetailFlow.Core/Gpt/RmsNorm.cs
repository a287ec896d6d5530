using TorchSharp;
using static TorchSharp.torch;

namespace DetailFlow.Core.Gpt;

/// <summary>
/// RMSNorm of the official <c>gpt.py</c> (spec §6.2, §12 item 9): normalise in float32, cast back to the activation
/// dtype, then multiply by the learned weight. No bias.
/// </summary>
public sealed class RmsNorm : nn.Module<Tensor, Tensor>
{
    public readonly TorchSharp.Modules.Parameter weight;
    private readonly double _eps;

    public RmsNorm(int dim, double eps) : base(nameof(RmsNorm))
    {
        if (dim <= 0) throw new ArgumentOutOfRangeException(nameof(dim), dim, "RMSNorm width must be positive");
        _eps = eps;
        weight = nn.Parameter(torch.ones(dim));
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = torch.NewDisposeScope();
        var x32 = x.to(float32);
        var normed = x32 * torch.rsqrt((x32 * x32).mean([-1], keepdim: true) + _eps);
        return (normed.to(x.dtype) * weight).MoveToOuterDisposeScope();
    }
}
