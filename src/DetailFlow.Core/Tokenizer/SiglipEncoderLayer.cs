using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace DetailFlow.Core.Tokenizer;

/// <summary>
/// One pre-norm SigLIP2 layer (spec §2.2): y = x + out_proj(MHA(LN1(x))); z = y + fc2(gelu_tanh(fc1(LN2(y)))).
/// HF <c>Siglip2EncoderLayer</c>; LayerNorm eps from the config (1e-6 for every release).
/// </summary>
public sealed class SiglipEncoderLayer : nn.Module
{
    public readonly LayerNorm layer_norm1;
    public readonly SiglipAttention self_attn;
    public readonly LayerNorm layer_norm2;
    public readonly SiglipMlp mlp;

    public SiglipEncoderLayer(VitConfig config) : base(nameof(SiglipEncoderLayer))
    {
        layer_norm1 = nn.LayerNorm(config.HiddenSize, config.LayerNormEps);
        self_attn = new SiglipAttention(config);
        layer_norm2 = nn.LayerNorm(config.HiddenSize, config.LayerNormEps);
        mlp = new SiglipMlp(config);
        RegisterComponents();
    }

    /// <param name="hiddenStates">[B, L, D].</param>
    /// <param name="additiveMask">Additive attention mask or null (full attention).</param>
    /// <param name="headwise">The forward's score buffer for full attention, or null (libtorch's fused attention).</param>
    public Tensor Forward(Tensor hiddenStates, Tensor? additiveMask, HeadwiseAttention? headwise = null)
    {
        using var scope = NewDisposeScope();
        var y = hiddenStates + self_attn.Forward(layer_norm1.forward(hiddenStates), additiveMask, headwise);
        var z = y + mlp.forward(layer_norm2.forward(y));
        return z.MoveToOuterDisposeScope();
    }
}
