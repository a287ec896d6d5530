using DetailFlow.Core.Runtime;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace DetailFlow.Core.Gpt;

/// <summary>
/// Multi-head self-attention (spec §6.2): fused <c>wqkv</c> (q, k, v as contiguous D-row blocks), 2-D rotary on q and k,
/// SDPA with scale 1/√hd and an explicit boolean mask, <c>wo</c>. No biases. The projections' rows are rounded up
/// (<see cref="GemmRows"/>) where kernels are compiled per shape. With a <see cref="KvCache"/> the new keys
/// and values are written at their absolute positions and the queries attend over the cached rows. In a packed forward
/// (<see cref="AttentionContext.Packed"/>) the projections see only the real positions. A one-pass forward
/// (<see cref="AttentionContext.OnePass"/>) rotates, writes the cache and attends with <see cref="CachedAttention"/>.
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

    /// <summary>x [B, L, D] → [B, L, D]; packed: x [1, T, D] → [1, T, D].</summary>
    public Tensor Forward(Tensor x, AttentionContext context)
    {
        using var scope = torch.NewDisposeScope();
        long b = x.shape[0], l = x.shape[1];
        var projected = GemmRows.Linear(wqkv, x);                                       // [B, L, 3D] or [1, T, 3D]
        var packed = context.Packed;
        if (packed is not null)
        {
            var grid = context.WriteIndex ?? throw new ArgumentException("a packed forward needs the cache's write positions", nameof(context));
            (b, l) = (grid.shape[0], grid.shape[1]);
            projected = torch.zeros([b * l, 3L * _dim], projected.dtype, projected.device)
                .index_copy_(0, packed, projected.view(-1, 3L * _dim)).view(b, l, 3L * _dim); // [B, L, 3D], zeros at padding
        }
        var writeIndex = context.Cache is null ? null : context.WriteIndex
            ?? throw new ArgumentException("a cached forward needs the write positions", nameof(context));
        Tensor merged;                                                                  // [B, L, D]
        if (context is { Cache: { } cache, OnePass: true } && !training)
            merged = CachedAttention.Run(cache, _layer, projected, context.Rotary, writeIndex!, context.Mask, context.KeyCount);
        else
        {
            // q and k are the first two D-wide blocks: rotated together, as 2H heads, in one pass.
            var qk = Rotary2D.Apply(projected.narrow(-1, 0, 2L * _dim).view(b, l, 2L * _heads, _headDim), context.Rotary); // [B, L, 2H, hd]
            var q = qk.narrow(2, 0, _heads).transpose(1, 2);                            // [B, H, L, hd]
            var k = qk.narrow(2, _heads, _heads).transpose(1, 2);
            var v = projected.narrow(-1, 2L * _dim, _dim).view(b, l, _heads, _headDim).transpose(1, 2);
            if (context.Cache is { } kv) (k, v) = kv.Update(_layer, writeIndex!, k, v, context.KeyCount); // [B, H, W, hd]
            var attended = nn.functional.scaled_dot_product_attention(q, k, v, attn_mask: context.Mask, p: training ? _attnDropout : 0); // [B, H, L, hd]
            merged = attended.transpose(1, 2).reshape(b, l, _dim);
        }
        if (packed is not null) merged = merged.view(b * l, _dim).index_select(0, packed).unsqueeze(0); // [1, T, D]
        return resid_dropout.forward(GemmRows.Linear(wo, merged)).MoveToOuterDisposeScope();
    }
}
