using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace DetailFlow.Core.Tokenizer;

/// <summary>The layer list of a SigLIP2 tower (HF <c>Siglip2Encoder</c>, key segment <c>encoder.layers.{i}</c>).</summary>
public sealed class SiglipLayerStack : nn.Module
{
    public readonly ModuleList<SiglipEncoderLayer> layers;

    public SiglipLayerStack(VitConfig config) : base(nameof(SiglipLayerStack))
    {
        layers = nn.ModuleList(Enumerable.Range(0, config.NumHiddenLayers).Select(_ => new SiglipEncoderLayer(config)).ToArray());
        RegisterComponents();
    }

    public Tensor Forward(Tensor hiddenStates, Tensor? additiveMask)
    {
        using var scope = NewDisposeScope();
        var h = hiddenStates;
        foreach (var layer in layers)
        {
            var next = layer.Forward(h, additiveMask);
            if (!ReferenceEquals(h, hiddenStates)) h.Dispose(); // keep one layer's activations alive, not all
            h = next;
        }
        return h.MoveToOuterDisposeScope();
    }
}
