using System.Diagnostics;
using System.Globalization;
using TorchSharp;
using static TorchSharp.torch;

namespace DetailFlow.Core.Runtime;

/// <summary>
/// What a model computes per step, for the probe: the linear layers of one forward at one request
/// (<see cref="Single"/>) and with the batch full (<see cref="Saturated"/>).
/// </summary>
public sealed record ProbeWorkload(string Name, IReadOnlyList<GemmShape> Single, IReadOnlyList<GemmShape> Saturated)
{
    /// <summary>The GPT's products at a guided request's step (2 rows × G codes) and at a step of <paramref name="rows"/> rows × G.</summary>
    public static ProbeWorkload Gpt(Gpt.GptConfig config, long rows) =>
        new("the GPT", StepShapes.Gpt(config, 2L * config.GroupSize), StepShapes.Gpt(config, rows * config.GroupSize));

    /// <summary>The decoder's products at one and at four full-resolution images.</summary>
    public static ProbeWorkload Decoder(Tokenizer.TokenizerConfig config) =>
        new("the decoder", StepShapes.Decoder(config, 1), StepShapes.Decoder(config, 4));
}

/// <summary>
/// One candidate's estimated forward times (Σ Count × best call time over the measured shapes) and the rates they imply.
/// </summary>
public sealed record PrecisionTiming(ScalarType DType, double SingleSeconds, double SaturatedSeconds, double SingleGflops, double SaturatedGflops)
{
    public string Name => ModelPrecisions.ShortName(DType);
}

/// <summary>The chosen precision, the figures that decided it, and why.</summary>
public sealed record PrecisionChoice(ScalarType Chosen, IReadOnlyList<PrecisionTiming> Timings, string Reason, double ProbeSeconds)
{
    public string Name => ModelPrecisions.ShortName(Chosen);

    /// <summary>One log line: the choice and each candidate's step time at one request and at a full batch.</summary>
    public string Describe() => Timings.Count == 0
        ? $"{Name} ({Reason})"
        : $"{Name} ({Reason}; probe {ProbeSeconds:F2} s: " + string.Join(", ", Timings.Select(t => string.Create(CultureInfo.InvariantCulture,
            $"{t.Name} {t.SingleSeconds * 1e3:F2} ms = {t.SingleGflops:F0} GFLOP/s at one request, {t.SaturatedSeconds * 1e3:F2} ms = {t.SaturatedGflops:F0} GFLOP/s at a full batch"))) + ")";
}

/// <summary>
/// Chooses a model's precision on the machine it runs on (<see cref="ModelPrecision.Auto"/>). Which precision is
/// fastest differs between CPUs (native bf16 GEMM kernels on some, native fp16 on others, neither on a third; see
/// docs/performance.md), so on CPU each candidate is timed at the model's own linear shapes, interleaved shape by
/// shape so that a noisy neighbour slows all candidates alike, within a time budget. The score of a candidate is its
/// time relative to fp32 at one request plus the same at a full batch: latency and throughput count alike.
/// </summary>
public static class PrecisionProbe
{
    /// <summary>
    /// On CUDA: bf16 when a bf16 product runs on the device, else fp32 (no timing). On CPU: the candidate with the
    /// lowest score; fp32 when nothing else was measured within <paramref name="budget"/>.
    /// </summary>
    public static PrecisionChoice Choose(ProbeWorkload workload, Device device, TimeSpan budget, IReadOnlyList<ScalarType>? candidates = null)
    {
        if (device.type == DeviceType.CUDA)
            return SupportsBf16(device)
                ? new PrecisionChoice(ScalarType.BFloat16, [], "CUDA device with bf16 support", 0)
                : new PrecisionChoice(ScalarType.Float32, [], "CUDA device without bf16 support", 0);
        var clock = Stopwatch.StartNew();
        var timings = Measure(workload, device, budget, candidates ?? ModelPrecisions.Candidates);
        return Pick(workload.Name, timings, clock.Elapsed.TotalSeconds);
    }

    /// <summary>The candidate with the lowest score among measured <paramref name="timings"/>; fp32 when fp32 is missing.</summary>
    public static PrecisionChoice Pick(string workload, IReadOnlyList<PrecisionTiming> timings, double probeSeconds)
    {
        if (timings.Count == 0 || timings.All(t => t.DType != ScalarType.Float32))
            return new PrecisionChoice(ScalarType.Float32, timings, "nothing measured within the probe budget", probeSeconds);
        var reference = timings.First(t => t.DType == ScalarType.Float32);
        double Score(PrecisionTiming t) => t.SingleSeconds / reference.SingleSeconds + t.SaturatedSeconds / reference.SaturatedSeconds;
        var best = timings.MinBy(Score)!;
        string reason = string.Create(CultureInfo.InvariantCulture,
            $"fastest at {workload}'s shapes: {Score(best) / 2:F2}× fp32's time, mean of one request and a full batch");
        return new PrecisionChoice(best.DType, timings, reason, probeSeconds);
    }

    /// <summary>
    /// Each candidate's estimated forward time at both workloads. Shapes run largest first, both workloads alternating;
    /// when the budget runs out, the estimate covers the shapes measured so far (the same ones for every candidate). The
    /// largest shape of each workload is always measured, so a loaded machine can overrun the budget by those two.
    /// <paramref name="bothLayouts"/>: each call timed with plain and with packed weights, the faster kept (the roofline's
    /// ceilings; the load-time probe times plain products and leaves packing to <see cref="PackingProbe"/>).
    /// </summary>
    public static IReadOnlyList<PrecisionTiming> Measure(ProbeWorkload workload, Device device, TimeSpan budget, IReadOnlyList<ScalarType> candidates,
        bool bothLayouts = false)
    {
        var order = Interleave(workload.Single.OrderByDescending(s => s.Flops).ToList(), workload.Saturated.OrderByDescending(s => s.Flops).ToList());
        var single = candidates.ToDictionary(c => c, _ => 0.0);
        var saturated = candidates.ToDictionary(c => c, _ => 0.0);
        var failed = new HashSet<ScalarType>();
        double singleFlops = 0, saturatedFlops = 0;
        var slice = TimeSpan.FromTicks(Math.Max(1, budget.Ticks / Math.Max(1, 4 * order.Count * candidates.Count)));
        var clock = Stopwatch.StartNew();
        foreach (var (shape, isSingle) in order)
        {
            var times = new Dictionary<ScalarType, double>();
            foreach (var dtype in candidates.Where(c => !failed.Contains(c)))
            {
                if (clock.Elapsed >= budget && singleFlops > 0 && saturatedFlops > 0) break;
                if ((bothLayouts ? GemmTimer.BestOfLayouts(shape, dtype, device, slice) : GemmTimer.BestSeconds(shape, dtype, device, slice)) is { } t) times[dtype] = t;
                else failed.Add(dtype);
            }
            if (candidates.Any(c => !failed.Contains(c) && !times.ContainsKey(c))) break;   // out of time within this shape: drop it
            foreach (var (dtype, t) in times) (isSingle ? single : saturated)[dtype] += t * shape.Count;
            if (isSingle) singleFlops += shape.Flops; else saturatedFlops += shape.Flops;
        }
        return candidates.Where(c => !failed.Contains(c) && single[c] > 0 && saturated[c] > 0)
            .Select(c => new PrecisionTiming(c, single[c], saturated[c], singleFlops / single[c] / 1e9, saturatedFlops / saturated[c] / 1e9))
            .ToList();
    }

    private static List<(GemmShape Shape, bool Single)> Interleave(List<GemmShape> single, List<GemmShape> saturated)
    {
        var order = new List<(GemmShape, bool)>();
        for (int i = 0; i < Math.Max(single.Count, saturated.Count); i++)
        {
            if (i < single.Count) order.Add((single[i], true));
            if (i < saturated.Count) order.Add((saturated[i], false));
        }
        return order;
    }

    private static bool SupportsBf16(Device device)
    {
        try
        {
            using var noGrad = torch.no_grad();
            using var scope = torch.NewDisposeScope();
            var a = torch.ones(8, 8, dtype: ScalarType.BFloat16, device: device);
            _ = a.matmul(a).sum().item<BFloat16>();
            return true;
        }
        catch (Exception e) when (e is System.Runtime.InteropServices.ExternalException or NotSupportedException)
        {
            return false;
        }
    }
}
