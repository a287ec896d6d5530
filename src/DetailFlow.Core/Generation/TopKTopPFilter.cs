using TorchSharp;
using static TorchSharp.torch;

namespace DetailFlow.Core.Generation;

/// <summary>
/// Top-k then top-p filtering (official <c>top_k_top_p_filtering</c>, spec §7.3), computed on the survivors only:
/// top-k keeps every logit ≥ the k-th largest (ties kept); top-p sorts the survivors in descending order, removes those
/// whose cumulative softmax exceeds p with the removal mask shifted right by one (the first is always kept).
/// Removed entries become −∞. Cheap: a top-k and a softmax over k entries instead of a full sort when k is set.
/// </summary>
public static class TopKTopPFilter
{
    /// <summary>Whether (topK, topP) filters anything for a vocabulary of <paramref name="vocab"/>.</summary>
    public static bool IsActive(int? topK, double topP, long vocab) => (topK is { } k && k < vocab) || topP < 1.0;

    /// <summary>
    /// logits [R, V] → (values [R, m], ids [R, m]): the candidate logits (−∞ where removed), in descending order, and
    /// their vocabulary ids. Returns (logits, null) when nothing is filtered.
    /// </summary>
    public static (Tensor Values, Tensor? Ids) Apply(Tensor logits, int? topK, double topP)
    {
        long vocab = logits.shape[^1];
        if (!IsActive(topK, topP, vocab)) return (logits, null);
        using var scope = torch.NewDisposeScope();
        Tensor values, ids;
        if (topK is { } k && k < vocab)
        {
            (values, ids) = torch.topk(logits, k, dim: -1);                                   // [R, k], descending
            var kth = values.narrow(-1, k - 1, 1);                                            // [R, 1]
            long survivors = logits.ge(kth).sum(-1).max().item<long>();                       // ties at the k-th value
            if (survivors > k)
            {
                (values, ids) = torch.topk(logits, (int)survivors, dim: -1);
                values = values.masked_fill(values.lt(kth), double.NegativeInfinity);
            }
        }
        else
        {
            (values, ids) = torch.sort(logits, dim: -1, descending: true);
        }
        if (topP < 1.0)
        {
            var cumulative = torch.nn.functional.softmax(values, dim: -1).cumsum(-1);
            var remove = cumulative.gt(topP);
            var shifted = torch.cat([torch.zeros_like(remove.narrow(-1, 0, 1)), remove.narrow(-1, 0, remove.shape[^1] - 1)], dim: -1);
            values = values.masked_fill(shifted, double.NegativeInfinity);
        }
        return (values.MoveToOuterDisposeScope(), ids.MoveToOuterDisposeScope());
    }
}
