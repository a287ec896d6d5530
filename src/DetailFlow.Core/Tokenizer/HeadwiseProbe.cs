using System.Diagnostics;
using System.Globalization;
using DetailFlow.Core.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace DetailFlow.Core.Tokenizer;

/// <summary>One layer's attention at <see cref="Tokens"/> tokens, one image, timed both ways (best seconds).</summary>
public sealed record HeadwiseTiming(int Tokens, double Sdpa, double Headwise);

/// <summary>
/// From how many tokens the decoder attends head by head (<see cref="SiglipDecoder.HeadwiseFromTokens"/>), with the
/// timings that decided it.
/// </summary>
public sealed record HeadwiseChoice(int FromTokens, string Reason, IReadOnlyList<HeadwiseTiming> Timings)
{
    public string Summary => SummaryOf(FromTokens);

    /// <summary><c>sdpa</c>, <c>headwise</c>, or <c>headwise from L tokens</c>: the summary of a decoder whose <see cref="SiglipDecoder.HeadwiseFromTokens"/> is <paramref name="fromTokens"/>.</summary>
    public static string SummaryOf(int fromTokens) => fromTokens == int.MaxValue ? "sdpa" : fromTokens <= 1 ? "headwise" : $"headwise from {fromTokens} tokens";

    public string Describe() => Timings.Count == 0
        ? $"{Summary} ({Reason})"
        : $"{Summary} ({Reason}: per layer at one image, head by head vs SDPA: "
          + string.Join(", ", Timings.Select(t => string.Create(CultureInfo.InvariantCulture, $"{t.Tokens} tokens {t.Headwise * 1e3:F2} vs {t.Sdpa * 1e3:F2} ms"))) + ")";
}

/// <summary>
/// Chooses, on the machine, between libtorch's fused attention and <see cref="HeadwiseAttention"/> for the decoder's
/// unmasked forwards: one layer's attention (projections included) at each sequence length the decoder will run
/// (<paramref name="tokenCounts"/>: g² + t of the scheduled prefixes), one image, timed both ways with
/// <see cref="GemmTimer.Best"/> after an untimed call (which also builds that length's product kernels). Head by head
/// runs from the shortest length at which it won there and at every longer one, by <see cref="Margin"/> at least: a tie
/// within a shared host's noise keeps libtorch's kernel.
/// </summary>
public static class HeadwiseProbe
{
    private const int MaxCalls = 20;

    /// <summary>How much faster head by head must be at a length to be chosen there (a fraction of SDPA's time).</summary>
    public const double Margin = 0.05;

    public static HeadwiseChoice Choose(DecoderAttention mode, SiglipDecoder decoder, IEnumerable<int> tokenCounts, Device device, TimeSpan budget)
    {
        ArgumentNullException.ThrowIfNull(decoder);
        ArgumentNullException.ThrowIfNull(tokenCounts);
        var dtype = decoder.mask_token.dtype;
        if (device.type != DeviceType.CPU || dtype is not (ScalarType.Float32 or ScalarType.BFloat16))
            return new HeadwiseChoice(int.MaxValue, $"head by head applies to float32/bfloat16 on a CPU, not {dtype} on {device.type}", []);
        if (mode != DecoderAttention.Auto) return new HeadwiseChoice(mode == DecoderAttention.Headwise ? 0 : int.MaxValue, "configured", []);
        var lengths = tokenCounts.Where(l => l > 0).Distinct().Order().ToArray();
        if (lengths.Length == 0) return new HeadwiseChoice(int.MaxValue, "no sequence length to time", []);

        var clock = Stopwatch.StartNew();
        var attention = decoder.visual_model.encoder.layers[0].self_attn;
        var timings = new List<HeadwiseTiming>();
        using (torch.no_grad())
        using (var headwise = new HeadwiseAttention())
            foreach (int l in lengths)
            {
                using var scope = torch.NewDisposeScope();
                var x = torch.randn([1, l, attention.HiddenSize], dtype, device);
                var each = budget / (2 * lengths.Length);
                double sdpa = GemmTimer.Best(() => attention.Forward(x, null).Dispose(), device, each, MaxCalls);
                double heads = GemmTimer.Best(() => attention.Forward(x, null, headwise).Dispose(), device, each, MaxCalls);
                timings.Add(new HeadwiseTiming(l, sdpa, heads));
            }
        return new HeadwiseChoice(FromTokens(timings), string.Create(CultureInfo.InvariantCulture, $"probe {clock.Elapsed.TotalSeconds:F2} s"), timings);
    }

    /// <summary>
    /// The shortest length at which head by head won by <see cref="Margin"/> and kept winning so at every longer one;
    /// <see cref="int.MaxValue"/> if it did not at the longest.
    /// </summary>
    public static int FromTokens(IEnumerable<HeadwiseTiming> timings)
    {
        int from = int.MaxValue;
        foreach (var t in timings.OrderByDescending(t => t.Tokens))
        {
            if (t.Headwise > t.Sdpa * (1 - Margin)) break;
            from = t.Tokens;
        }
        return from;
    }

    /// <summary>
    /// Builds, on the calling thread and its torch thread count, the product kernels of head-by-head attention at each of
    /// <paramref name="tokenCounts"/> the decoder attends head by head at (one untimed layer on noise each). Returns how many.
    /// </summary>
    public static int Warm(SiglipDecoder decoder, IEnumerable<int> tokenCounts)
    {
        ArgumentNullException.ThrowIfNull(decoder);
        var attention = decoder.visual_model.encoder.layers[0].self_attn;
        var device = decoder.mask_token.device;
        int warmed = 0;
        using var noGrad = torch.no_grad();
        using var headwise = new HeadwiseAttention();
        foreach (int l in tokenCounts.Where(l => l >= decoder.HeadwiseFromTokens).Distinct())
        {
            using var scope = torch.NewDisposeScope();
            var x = torch.randn([1, l, attention.HiddenSize], decoder.mask_token.dtype, device);
            if (!HeadwiseAttention.Fits(x, attention.NumHeads)) break;
            attention.Forward(x, null, headwise);
            warmed++;
        }
        return warmed;
    }
}
