using TorchSharp;
using static TorchSharp.torch;

namespace DetailFlow.Core.Gpt;

/// <summary>
/// The GPT's group-causal attention mask (<c>create_group_causal_mask</c>, spec §6.5), indexed by extended positions.
/// <b>True = may attend</b> (SDPA boolean convention; the tokenizer helper uses the opposite). Query i &lt; C sees keys
/// j ≤ i; any later query sees every key of its own and earlier groups: j / G ≤ i / G.
/// </summary>
public static class GroupCausalMask
{
    public static bool Allowed(long query, long key, int groupSize, int causalNum) =>
        query < causalNum ? key <= query : key / groupSize <= query / groupSize;

    /// <summary>The full [S, S] boolean mask.</summary>
    public static Tensor Build(int size, int groupSize, int causalNum)
    {
        if (size <= 0) throw new ArgumentOutOfRangeException(nameof(size), size, "mask size must be positive");
        using var scope = torch.NewDisposeScope();
        var positions = torch.arange(size, dtype: int64).unsqueeze(0); // [1, S]
        return Rows(positions, size, groupSize, causalNum)[0, 0].MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Mask rows for queries at absolute positions <paramref name="queryPositions"/> [B, L] over keys 0..width−1:
    /// [B, 1, L, width]. This is how a KV-cached block is masked (spec §7.4); no full matrix is built.
    /// </summary>
    public static Tensor Rows(Tensor queryPositions, long width, int groupSize, int causalNum)
    {
        if (groupSize <= 0) throw new ArgumentOutOfRangeException(nameof(groupSize), groupSize, "group size must be positive");
        using var scope = torch.NewDisposeScope();
        var q = queryPositions.to(int64).unsqueeze(-1);                                  // [B, L, 1]
        var k = torch.arange(width, dtype: int64, device: queryPositions.device).view(1, 1, width); // [1, 1, W]
        var causal = k.le(q);
        var grouped = k.div(groupSize, rounding_mode: RoundingMode.floor).le(q.div(groupSize, rounding_mode: RoundingMode.floor));
        return torch.where(q.lt(causalNum), causal, grouped).unsqueeze(1).MoveToOuterDisposeScope(); // [B, 1, L, W]
    }
}
