using TorchSharp;
using static TorchSharp.torch;

namespace DetailFlow.Core.Generation;

/// <summary>
/// Draws one code per logits row (spec §7.3): temperature, top-k/top-p (<see cref="TopKTopPFilter"/>), softmax and a
/// categorical (multinomial) draw, or arg-max when greedy. The draw is by inverse CDF: one uniform u per code from a
/// generator seeded by (request seed, code index) (<see cref="StreamSeed"/>), then the first candidate whose cumulative
/// probability exceeds u (one uniform instead of torch.multinomial's V exponentials: cheaper, same distribution,
/// different streams from the official sampler, which cannot be matched draw for draw anyway; docs/performance.md). So a row's codes never
/// depend on the other rows of the batch, on the step it shared, or on where generation stops: the codes for seed s at
/// detail t are the first t codes of seed s at full detail.
/// </summary>
public sealed class RowSampler : IDisposable
{
    private readonly Generator _generator;

    public RowSampler()
    {
        _generator = new Generator(0, CPU);   // uniforms are drawn on the CPU whatever the model's device
    }

    /// <summary>
    /// logits [R, V] float32 (already guided); row r uses <paramref name="options"/>[r] and draws code
    /// <paramref name="codeIndex"/>[r] of its request. Returns R vocabulary ids.
    /// </summary>
    public long[] Sample(Tensor logits, IReadOnlyList<SamplingOptions> options, IReadOnlyList<int> codeIndex)
    {
        long rows = logits.shape[0];
        if (options.Count != rows || codeIndex.Count != rows)
            throw new ArgumentException($"{rows} logits rows need as many options ({options.Count}) and code indices ({codeIndex.Count})");
        using var scope = torch.NewDisposeScope();
        var result = new long[rows];
        var groups = Enumerable.Range(0, (int)rows).GroupBy(r => (options[r].Greedy, options[r].Temperature, options[r].TopK, options[r].TopP));
        foreach (var group in groups)
        {
            int[] members = group.ToArray();
            var sub = members.Length == rows ? logits : logits.index_select(0, torch.tensor(members.Select(m => (long)m).ToArray(), device: logits.device));
            if (group.Key.Greedy)
            {
                var best = sub.argmax(-1).cpu().data<long>().ToArray();
                for (int i = 0; i < members.Length; i++) result[members[i]] = best[i];
                continue;
            }
            var scaled = sub / Math.Max(group.Key.Temperature, SamplingOptions.MinTemperature);
            var (values, ids) = TopKTopPFilter.Apply(scaled, group.Key.TopK, group.Key.TopP);
            var probs = torch.nn.functional.softmax(values, dim: -1);                       // [r, m]
            long m = probs.shape[1];
            var cdf = probs.to(float64).cumsum(-1);                                         // [r, m]
            var uniforms = members.Select(r => Uniform(options[r].Seed, codeIndex[r])).ToArray();
            var targets = torch.tensor(uniforms, [members.Length, 1], float64, device: logits.device) * cdf.narrow(-1, m - 1, 1);
            var pick = torch.searchsorted(cdf, targets, right: true).clamp_max(m - 1);      // [r, 1]: first cdf > u·total
            if (ids is not null) // candidates are sorted, removed ones (p = 0) last: u·total rounding up must not reach them
                pick = torch.minimum(pick, probs.gt(0).sum(-1, keepdim: true) - 1);
            var chosen = (ids is null ? pick : ids.gather(1, pick)).cpu().data<long>().ToArray();
            for (int i = 0; i < members.Length; i++) result[members[i]] = chosen[i];
        }
        return result;
    }

    /// <summary>The uniform in [0, 1) that draws code <paramref name="codeIndex"/> of the request with <paramref name="seed"/>.</summary>
    private double Uniform(long seed, long codeIndex)
    {
        _generator.manual_seed(StreamSeed(seed, codeIndex));
        return torch.rand(1, dtype: float64, generator: _generator).item<double>();
    }

    /// <summary>
    /// The generator seed for code <paramref name="codeIndex"/> of a request with <paramref name="seed"/>: a SplitMix64
    /// mix of both (libtorch's CPU generator keys its stream on the low 32 bits, which this mixes well).
    /// </summary>
    public static long StreamSeed(long seed, long codeIndex)
    {
        ulong z = Mix((ulong)seed) ^ ((ulong)codeIndex * 0x9E3779B97F4A7C15UL);
        return (long)(Mix(z) & 0x7FFF_FFFF_FFFF_FFFFUL);
    }

    private static ulong Mix(ulong z)
    {
        z += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    public void Dispose() => _generator.Dispose();
}
