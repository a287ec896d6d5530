using DetailFlow.Core.Gpt;
using TorchSharp;
using static TorchSharp.torch;

namespace DetailFlow.Core.Generation;

/// <summary>
/// The sampling half of a <see cref="NextDetailEngine"/> step: from the forward's output logits to each active
/// request's codes, with classifier-free guidance where the request holds a null-class row.
/// </summary>
internal static class StepSampling
{
    /// <summary>The codes drawn for each active request, in order.</summary>
    /// <param name="logits">[M, V]: the output positions of <paramref name="batch"/>.</param>
    public static long[][] Draw(Tensor logits, StepBatch batch, IReadOnlyList<GenerationRow> active,
        List<(GenerationRow Row, bool IsNull)> slots, SequenceLayout layout, int blockSize, RowSampler sampler)
    {
        var guided = new List<Tensor>();
        var options = new List<SamplingOptions>();
        var codeIndex = new List<int>();
        foreach (var row in active)
        {
            int t = row.Codes.Count, n = layout.CodesPerStep(t);
            int condRow = slots.FindIndex(s => s.Row == row && !s.IsNull);
            int nullRow = slots.FindIndex(s => s.Row == row && s.IsNull);
            var cond = logits.narrow(0, batch.OutputStart[condRow], n);                             // [n, V]
            Tensor? uncond = nullRow >= 0 ? logits.narrow(0, batch.OutputStart[nullRow], n) : null;
            var g = uncond is null
                ? cond
                : ClassifierFreeGuidance.Combine(cond, uncond,
                    ClassifierFreeGuidance.ScaleAt(row.Request.Options, layout, t, blockSize));
            row.Request.StepLogits?.Record(t, g, cond, uncond);
            guided.Add(g);
            for (int j = 0; j < n; j++)
            {
                options.Add(row.Request.Options);
                codeIndex.Add(t + j);
            }
        }
        var codes = sampler.Sample(torch.cat(guided, dim: 0), options, codeIndex);
        var result = new long[active.Count][];
        for (int i = 0, k = 0; i < active.Count; i++)
        {
            int n = layout.CodesPerStep(active[i].Codes.Count);
            result[i] = codes.AsSpan(k, n).ToArray();
            k += n;
        }
        return result;
    }
}
