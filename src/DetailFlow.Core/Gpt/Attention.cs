using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace DetailFlow.Core.Gpt;

/// <summary>
/// Multi-head self-attention (spec §6.2): fused <c>wqkv</c> (q, k, v as contiguous D-row blocks), 2-D rotary on q and k,
/// SDPA with scale 1/√hd and an explicit boolean mask, <c>wo</c>. No biases. With a <see cref="KvCache"/> the new keys
/// and values are written at their absolute positions and the queries attend over the cached rows.
/// </summary>
public sealed class Attention : nn.Module
{
    public readonly Linear wqkv;
    public readonly Linear wo;
    public readonly Dropout resid_dropout;
    private readonly int _dim;
    private readonly int _heads;
    private readonly int _headDim;
    private readonly int _layer;
    private readonly double _attnDropout;

    public Attention(GptConfig config, int layerIndex) : base(nameof(Attention))
    {
        _dim = config.Dim;
        _heads = config.NHead;
        _headDim = config.HeadDim;
        _layer = layerIndex;
        _attnDropout = config.AttnDropoutP;
        wqkv = nn.Linear(config.Dim, 3L * config.Dim, hasBias: false);
        wo = nn.Linear(config.Dim, config.Dim, hasBias: false);
        resid_dropout = nn.Dropout(config.ResidDropoutP);
        RegisterComponents();
    }

    /// <summary>x [B, L, D] → [B, L, D].</summary>
    public Tensor Forward(Tensor x, AttentionContext context)
    {
        using var scope = torch.NewDisposeScope();
        long b = x.shape[0], l = x.shape[1];
        var qkv = wqkv.forward(x).split([_dim, _dim, _dim], dim: -1);                   // 3 × [B, L, D]
        var q = Rotary2D.Apply(qkv[0].view(b, l, _heads, _headDim), context.Rotary);   // [B, L, H, hd]
        var k = Rotary2D.Apply(qkv[1].view(b, l, _heads, _headDim), context.Rotary);
        var v = qkv[2].view(b, l, _heads, _headDim);
        q = q.transpose(1, 2);                                                          // [B, H, L, hd]
        k = k.transpose(1, 2);
        v = v.transpose(1, 2);
        if (context.Cache is { } cache)
        {
            var writeIndex = context.WriteIndex
                ?? throw new ArgumentException("a cached forward needs the write positions", nameof(context));
            (k, v) = cache.Update(_layer, writeIndex, k, v, context.KeyCount);           // [B, H, W, hd]
        }
        var attended = nn.functional.scaled_dot_product_attention(q, k, v, attn_mask: context.Mask, p: training ? _attnDropout : 0); // [B, H, L, hd]
        var merged = attended.transpose(1, 2).reshape(b, l, _dim);                      // [B, L, D]
        return resid_dropout.forward(wo.forward(merged)).MoveToOuterDisposeScope();
    }
}
