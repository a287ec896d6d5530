using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace DetailFlow.Core.Tokenizer;

/// <summary>
/// Official <c>average_cosine_similarity</c> as <c>VQModel.encode</c> reports it (its extra <c>emb_loss</c> entry): the
/// code vectors [B, N, d] split into groups of G consecutive tokens ('b (l n) d → (b l) n d'), the mean pairwise
/// cosine similarity inside each group (diagonal excluded), averaged over all groups. A diagnostic only.
/// </summary>
public static class AverageCosineSimilarity
{
    public static Tensor OfGroups(Tensor quant, int groupSize)
    {
        if (quant.dim() != 3) throw new ArgumentException($"code vectors must be [B, N, d], got [{string.Join(", ", quant.shape)}]", nameof(quant));
        if (groupSize < 2) throw new ArgumentOutOfRangeException(nameof(groupSize), groupSize, "needs groups of at least 2 tokens");
        if (quant.shape[1] % groupSize != 0)
            throw new ArgumentException($"{quant.shape[1]} tokens are not a multiple of the group size {groupSize}", nameof(quant));
        using var scope = NewDisposeScope();
        long b = quant.shape[0], n = quant.shape[1], d = quant.shape[2];
        var groups = quant.reshape(b * (n / groupSize), groupSize, d);                     // [B·N/G, G, d]
        var cos = F.cosine_similarity(groups.unsqueeze(2), groups.unsqueeze(1), dim: -1);  // [B·N/G, G, G]
        var diagonal = torch.eye(groupSize, dtype: ScalarType.Bool, device: quant.device);
        cos = cos.masked_fill(diagonal.unsqueeze(0), 0);
        var perGroup = cos.sum([-1L, -2L]) / (groupSize * (groupSize - 1.0));               // [B·N/G]
        return perGroup.mean().MoveToOuterDisposeScope();
    }
}
