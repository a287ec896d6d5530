using System.Collections.Concurrent;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace DetailFlow.Core.Tokenizer;

/// <summary>The layer list of a SigLIP2 tower (HF <c>Siglip2Encoder</c>, key segment <c>encoder.layers.{i}</c>).</summary>
public sealed class SiglipLayerStack : nn.Module
{
    public readonly ModuleList<SiglipEncoderLayer> layers;
    private readonly ConcurrentBag<HeadwiseAttention> _headwise = [];   // one per forward running at once, kept

    public SiglipLayerStack(VitConfig config) : base(nameof(SiglipLayerStack))
    {
        layers = nn.ModuleList(Enumerable.Range(0, config.NumHiddenLayers).Select(_ => new SiglipEncoderLayer(config)).ToArray());
        RegisterComponents();
    }

    /// <summary>
    /// Sequence length from which an unmasked forward attends head by head (<see cref="HeadwiseAttention"/>, where it
    /// fits) rather than through libtorch's fused attention; <see cref="int.MaxValue"/> (the default): never.
    /// </summary>
    public int HeadwiseFromTokens { get; set; } = int.MaxValue;

    /// <param name="hiddenStates">[B, L, D].</param>
    /// <param name="additiveMask">Additive attention mask or null (full attention).</param>
    public Tensor Forward(Tensor hiddenStates, Tensor? additiveMask)
    {
        using var scope = NewDisposeScope();
        var headwise = additiveMask is null && hiddenStates.shape[1] >= HeadwiseFromTokens && layers.Count > 0
            && HeadwiseAttention.Fits(hiddenStates, layers[0].self_attn.NumHeads)
            ? _headwise.TryTake(out var kept) ? kept : new HeadwiseAttention()
            : null;
        try
        {
            var h = hiddenStates;
            foreach (var layer in layers)
            {
                var next = layer.Forward(h, additiveMask, headwise);
                if (!ReferenceEquals(h, hiddenStates)) h.Dispose(); // keep one layer's activations alive, not all
                h = next;
            }
            return h.MoveToOuterDisposeScope();
        }
        finally
        {
            if (headwise is not null) _headwise.Add(headwise);
        }
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
            while (_headwise.TryTake(out var kept)) kept.Dispose();
        base.Dispose(disposing);
    }
}
