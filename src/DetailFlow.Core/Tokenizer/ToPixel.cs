using DetailFlow.Core.Runtime;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace DetailFlow.Core.Tokenizer;

/// <summary>Official <c>ToPixel</c> in linear mode (spec §2.3): Linear(D→p·p·3) on each grid token, then unpatchify.</summary>
public sealed class ToPixel : nn.Module<Tensor, Tensor>
{
    public readonly Linear model;

    public ToPixel(int inDim, int patchSize) : base(nameof(ToPixel))
    {
        PatchSize = patchSize;
        model = nn.Linear(inDim, 3L * patchSize * patchSize);
        RegisterComponents();
    }

    public int PatchSize { get; }

    /// <summary>[B, g², D] → [B, 3, g·p, g·p].</summary>
    public override Tensor forward(Tensor gridTokens)
    {
        using var scope = NewDisposeScope();
        return PatchLayout.Unpatchify(GemmRows.Linear(model, gridTokens), PatchSize).MoveToOuterDisposeScope();
    }
}
