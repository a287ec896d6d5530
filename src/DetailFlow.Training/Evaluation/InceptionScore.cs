using TorchSharp;
using static TorchSharp.torch;

namespace DetailFlow.Training.Evaluation;

/// <summary>
/// Inception Score as torch-fidelity computes it: p = softmax(logits); the samples are split into
/// <c>splits</c> consecutive parts (boundaries ⌊i·N/splits⌋), each scored exp(mean_x KL(p(y|x) ‖ p(y))) with
/// p(y) the part's mean; the result is the mean and the population standard deviation over the parts.
/// </summary>
public static class InceptionScore
{
    /// <param name="logits">[N, K] class logits (torch-fidelity scores the FID Inception's <c>logits_unbiased</c>).</param>
    /// <param name="splits">Number of parts (10 in torch-fidelity, OpenAI's and the ADM evaluator).</param>
    /// <param name="shuffleSeed">
    /// Shuffle the samples (seeded) before splitting, as torch-fidelity does — needed when the samples are ordered by
    /// class (each part would otherwise hold few classes); null keeps the given order. The permutation comes from
    /// .NET's <see cref="Random"/>, not numpy's <c>RandomState(2020)</c>, so the parts differ from torch-fidelity's
    /// (the mean agrees to sampling noise, not bit for bit).
    /// </param>
    public static (double Mean, double Std) Compute(Tensor logits, int splits = 10, int? shuffleSeed = 2020)
    {
        if (logits.dim() != 2) throw new ArgumentException($"logits must be [N, K], got [{string.Join(", ", logits.shape)}]", nameof(logits));
        long n = logits.shape[0];
        if (splits < 1 || n < splits) throw new ArgumentOutOfRangeException(nameof(splits), splits, $"need 1 ≤ splits ≤ N = {n}");
        using var scope = NewDisposeScope();
        var l = logits.to(float64);
        if (shuffleSeed is int seed)
        {
            var order = Enumerable.Range(0, (int)n).Select(i => (long)i).ToArray();
            new Random(seed).Shuffle(order);
            l = l.index_select(0, tensor(order));
        }
        var p = l.softmax(1);
        var logP = l.log_softmax(1);
        var scores = new double[splits];
        for (int i = 0; i < splits; i++)
        {
            long start = i * n / splits, end = (i + 1) * n / splits;
            var part = p.narrow(0, start, end - start);
            var logPart = logP.narrow(0, start, end - start);
            var logQ = part.mean([0], keepdim: true).log();
            scores[i] = Math.Exp((part * (logPart - logQ)).sum(1).mean().item<double>());
        }
        double mean = scores.Average();
        return (mean, Math.Sqrt(scores.Select(s => (s - mean) * (s - mean)).Average()));
    }
}
