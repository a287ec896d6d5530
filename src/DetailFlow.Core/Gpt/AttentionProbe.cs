using System.Diagnostics;
using System.Globalization;
using DetailFlow.Core.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace DetailFlow.Core.Gpt;

/// <summary>
/// Up to how many rows a model's cached forwards attend in one pass (<see cref="GptTransformer.OnePassAttentionRows"/>),
/// with the per-layer times that decided it (seconds; 0 where not measured).
/// </summary>
public sealed record AttentionChoice(int OnePassRows, string Reason, double SdpaSingle = 0, double OnePassSingle = 0, double SdpaSaturated = 0,
    double OnePassSaturated = 0)
{
    public string Describe() => SdpaSingle <= 0
        ? $"{Summary} ({Reason})"
        : string.Create(CultureInfo.InvariantCulture,
            $"{Summary} ({Reason}: one pass {OnePassSingle * 1e6:F0} vs SDPA {SdpaSingle * 1e6:F0} µs per layer at one request, {OnePassSaturated * 1e6:F0} vs {SdpaSaturated * 1e6:F0} µs at a full batch)");

    /// <summary><c>sdpa</c>, or <c>one-pass</c> with the largest batch it runs at.</summary>
    public string Summary => SummaryOf(OnePassRows);

    /// <summary>The <see cref="Summary"/> of a model whose <see cref="GptTransformer.OnePassAttentionRows"/> is <paramref name="onePassRows"/>.</summary>
    public static string SummaryOf(int onePassRows) => onePassRows == 0 ? "sdpa" : $"one-pass up to {onePassRows} rows";
}

/// <summary>
/// Chooses, on the machine, between libtorch's rotary, indexed cache writes and SDPA and <see cref="CachedAttention"/>
/// for a model's cached forwards: one layer's attention at a guided request's step (2 rows) and at a full batch, a group of
/// G queries over half the sequence, timed both ways (<see cref="GemmTimer.Best"/>, best of each within the budget). One pass runs up to
/// the largest of the two batch sizes at which it was faster (none when it lost at one request).
/// </summary>
public static class AttentionProbe
{
    private const int MaxCalls = 200;

    /// <summary><paramref name="kernel"/> where it is fixed and can apply; otherwise the probe's choice for batches of up to <paramref name="maxRows"/> rows.</summary>
    public static AttentionChoice Choose(AttentionKernel kernel, GptConfig config, ScalarType dtype, Device device, int maxRows, TimeSpan budget)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxRows, 2);
        if (!CachedAttention.Supports(dtype, device, config.HeadDim))
            return new AttentionChoice(0, $"one pass applies to float32/bfloat16 on a CPU with head dims a multiple of 16, not {dtype} on {device.type}");
        if (kernel != AttentionKernel.Auto) return new AttentionChoice(kernel == AttentionKernel.OnePass ? maxRows : 0, "configured");
        var clock = Stopwatch.StartNew();
        using var noGrad = torch.no_grad();
        using var cache = new KvCache(config with { NLayer = 1 }, maxRows, dtype, device);   // one layer's buffers: no transient copy of the model's cache
        var single = Time(config, cache, 2, dtype, device, budget / 2);
        var saturated = maxRows == 2 ? single : Time(config, cache, maxRows, dtype, device, budget / 2);
        int rows = single.OnePass >= single.Sdpa ? 0 : saturated.OnePass < saturated.Sdpa ? maxRows : 2;
        return new AttentionChoice(rows, string.Create(CultureInfo.InvariantCulture, $"probe {clock.Elapsed.TotalSeconds:F2} s"),
            single.Sdpa, single.OnePass, saturated.Sdpa, saturated.OnePass);
    }

    private static (double Sdpa, double OnePass) Time(GptConfig config, KvCache cache, int rows, ScalarType dtype, Device device, TimeSpan budget)
    {
        using var scope = torch.NewDisposeScope();
        int g = config.GroupSize, h = config.NHead, hd = config.HeadDim;
        long width = Math.Clamp(config.BlockSize / 2 + 1, g, cache.TrashSlot);
        var positions = torch.arange(width - g, width, dtype: ScalarType.Int64, device: device).unsqueeze(0).expand(rows, g).contiguous(); // [R, G]
        var mask = GroupCausalMask.Rows(positions, width, g, config.EffectiveCausalNum);                                                  // [R, 1, G, W]
        var projected = torch.randn([rows, g, 3L * h * hd], dtype, device);
        using var table = new Rotary2D(config);
        var rotary = table.Rows(positions);                                                                                             // [R, G, hd/2, 2]
        void Sdpa()
        {
            using var step = torch.NewDisposeScope();
            var qk = Rotary2D.Apply(projected.narrow(-1, 0, 2L * h * hd).view(rows, g, 2L * h, hd), rotary);
            var v = projected.narrow(-1, 2L * h * hd, h * hd).view(rows, g, h, hd).transpose(1, 2);
            var (k, vv) = cache.Update(0, positions, qk.narrow(2, h, h).transpose(1, 2), v, width);
            nn.functional.scaled_dot_product_attention(qk.narrow(2, 0, h).transpose(1, 2), k, vv, attn_mask: mask).transpose(1, 2).reshape(rows, g, h * hd);
        }
        void OnePass()
        {
            using var step = torch.NewDisposeScope();
            CachedAttention.Run(cache, 0, projected, rotary, positions, mask, width);
        }
        return (GemmTimer.Best(Sdpa, device, budget / 2, MaxCalls), GemmTimer.Best(OnePass, device, budget / 2, MaxCalls));
    }
}
