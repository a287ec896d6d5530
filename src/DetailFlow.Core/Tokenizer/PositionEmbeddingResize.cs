using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace DetailFlow.Core.Tokenizer;

/// <summary>
/// Naflex position-table resize (spec §2.4, official <c>CustomSiglip.resize_positional_embeddings</c>): the learned
/// [n, D] table viewed as a √n × √n grid (row-major), resized to gh × gw with bilinear, align_corners = false,
/// antialias = true, flattened row-major to [gh·gw, D]. Computed in float32 (antialiased resize has no bf16 kernel)
/// and cast back to the table's dtype, as the official code casts back to the source dtype.
/// </summary>
public static class PositionEmbeddingResize
{
    public static Tensor Resize(Tensor table, int gridHeight, int gridWidth)
    {
        if (table.dim() != 2) throw new ArgumentException($"position table must be [n, D], got [{string.Join(", ", table.shape)}]", nameof(table));
        if (gridHeight <= 0) throw new ArgumentOutOfRangeException(nameof(gridHeight), gridHeight, "grid height must be positive");
        if (gridWidth <= 0) throw new ArgumentOutOfRangeException(nameof(gridWidth), gridWidth, "grid width must be positive");
        long n = table.shape[0], d = table.shape[1];
        long side = (long)Math.Round(Math.Sqrt(n));
        if (side * side != n) throw new ArgumentException($"position table has {n} rows, not a square grid", nameof(table));

        using var scope = NewDisposeScope();
        var grid = table.to(float32).reshape(side, side, d).permute(2, 0, 1).unsqueeze(0); // [1, D, s, s]
        var resized = F.interpolate(grid, size: [gridHeight, gridWidth], mode: InterpolationMode.Bilinear,
            align_corners: false, antialias: true);                                          // [1, D, gh, gw]
        return resized.reshape(d, (long)gridHeight * gridWidth).t()                          // [gh·gw, D]
            .to(table.dtype).contiguous().MoveToOuterDisposeScope();
    }
}
