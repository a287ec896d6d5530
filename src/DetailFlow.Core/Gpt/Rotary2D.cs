using TorchSharp;
using static TorchSharp.torch;

namespace DetailFlow.Core.Gpt;

/// <summary>
/// The 2-D rotary table of the GPT (<c>precompute_freqs_cis_2d_nonsquare</c>, spec §6.3, §12 items 7–8) and its
/// application. Row p ≥ 1 is grid cell ((p−1)/G, (p−1) mod G); the class row is all zeros (cos = sin = 0), which
/// zeroes the class token's q and k. Pairs are interleaved (x[2i], x[2i+1]). Computed and applied in float32.
/// An instance owns one table [cls + N, hd/2, 2]; it is not a module buffer (the checkpoints do not carry it).
/// </summary>
public sealed class Rotary2D : IDisposable
{
    private Tensor _table;

    public Rotary2D(GptConfig config)
        : this(Build(config.BlockSize / config.GroupSize, config.GroupSize, config.HeadDim, config.RopeBase, config.ClsTokenNum))
    {
    }

    private Rotary2D(Tensor table)
    {
        _table = table.DetachFromDisposeScope();
    }

    /// <summary>The table [cls + N, hd/2, 2] (float32).</summary>
    public Tensor Table => _table;

    /// <summary>Rows for absolute positions [B, L] → [B, L, hd/2, 2], on the device of <paramref name="positions"/>.</summary>
    public Tensor Rows(Tensor positions)
    {
        if (_table.device != positions.device)
        {
            var moved = _table.to(positions.device).DetachFromDisposeScope();
            _table.Dispose();
            _table = moved;
        }
        return _table.index_select(0, positions.flatten()).view(positions.shape[0], positions.shape[1], _table.shape[1], 2);
    }

    /// <summary>
    /// precompute_freqs_cis_2d_nonsquare(gridHeight, gridWidth, headDim, base, clsTokenNum): [cls + H·W, hd/2, 2].
    /// f_k = 1 / base^(2k / (hd/2)) for k &lt; hd/4; the first hd/4 pairs use the row angle, the last hd/4 the column.
    /// </summary>
    public static Tensor Build(int gridHeight, int gridWidth, int headDim, double ropeBase, int clsTokenNum)
    {
        if (headDim <= 0 || headDim % 4 != 0)
            throw new ArgumentOutOfRangeException(nameof(headDim), headDim, "2-D rotary needs a head dim that is a positive multiple of 4");
        if (gridHeight <= 0 || gridWidth <= 0)
            throw new ArgumentOutOfRangeException(nameof(gridHeight), $"grid {gridHeight}×{gridWidth} must be positive");
        using var scope = torch.NewDisposeScope();
        int half = headDim / 2;
        // Same op order as the official code: (arange(0, half, 2).float() / half), base ** that, then 1.0 / it.
        var exponents = torch.arange(0, half, 2, dtype: int64).to(float32) / half;           // [hd/4]
        var freqs = torch.full_like(exponents, ropeBase).pow(exponents).reciprocal();        // [hd/4]
        var rowFreqs = torch.arange(gridHeight, dtype: int64).to(float32).unsqueeze(1) * freqs.unsqueeze(0); // [H, hd/4]
        var colFreqs = torch.arange(gridWidth, dtype: int64).to(float32).unsqueeze(1) * freqs.unsqueeze(0);  // [W, hd/4]
        var grid = torch.cat([
            rowFreqs.unsqueeze(1).expand(gridHeight, gridWidth, -1),
            colFreqs.unsqueeze(0).expand(gridHeight, gridWidth, -1),
        ], dim: -1);                                                                          // [H, W, hd/2]
        var cache = torch.stack([grid.cos(), grid.sin()], dim: -1).flatten(0, 1);            // [H·W, hd/2, 2]
        var cls = torch.zeros(clsTokenNum, half, 2, dtype: float32);
        return torch.cat([cls, cache], dim: 0).MoveToOuterDisposeScope();                    // [cls + H·W, hd/2, 2]
    }

    /// <summary>
    /// Rotates x [B, L, H, hd] by rows [B or 1, L, hd/2, 2] in float32 and casts back:
    /// (x0, x1) → (x0·cos − x1·sin, x1·cos + x0·sin), i.e. the pair times cos + i·sin as one complex product: the
    /// official stack of two products in fewer ops (this runs at every layer of every step).
    /// </summary>
    public static Tensor Apply(Tensor x, Tensor rows)
    {
        using var scope = torch.NewDisposeScope();
        long b = x.shape[0], l = x.shape[1], h = x.shape[2], half = x.shape[3] / 2;
        var pairs = torch.view_as_complex(x.to(float32).reshape(b, l, h, half, 2));                 // [B, L, H, hd/2]
        var turns = torch.view_as_complex(rows.to(float32).reshape(rows.shape[0], l, 1, half, 2));  // [B|1, L, 1, hd/2]
        return torch.view_as_real(pairs * turns).flatten(3).to(x.dtype).MoveToOuterDisposeScope();  // [B, L, H, hd]
    }

    public void Dispose() => _table.Dispose();
}
