using System.Diagnostics;
using System.Globalization;
using TorchSharp;
using static TorchSharp.torch;

namespace DetailFlow.Core.Runtime;

/// <summary>Whether a model's weights are packed (<see cref="PackedLinear"/>), with the step times that decided it.</summary>
public sealed record PackingChoice(bool Pack, string Reason, double PlainSingle = 0, double PackedSingle = 0, double PlainSaturated = 0, double PackedSaturated = 0)
{
    public string Describe() => PlainSingle <= 0
        ? $"{(Pack ? "packed" : "plain")} weights ({Reason})"
        : string.Create(CultureInfo.InvariantCulture,
            $"{(Pack ? "packed" : "plain")} weights ({Reason}: packed {PackedSingle * 1e3:F2} vs plain {PlainSingle * 1e3:F2} ms at one request, {PackedSaturated * 1e3:F2} vs {PlainSaturated * 1e3:F2} ms at a full batch)");
}

/// <summary>
/// Chooses between plain and packed weights on the machine, at the model's own shapes and in its chosen precision:
/// each linear shape of a step at one request and at a full batch timed both ways, alternating, within a time budget;
/// packed when its time relative to plain, averaged over the two workloads, is below 1 (the score of
/// <see cref="PrecisionProbe"/>). Only reduced precisions on a CPU are candidates: there oneDNN runs the products and
/// re-lays a plain weight out on every call; fp32 runs MKL, CUDA cuBLAS.
/// </summary>
public static class PackingProbe
{
    /// <summary><paramref name="layout"/> where it is fixed and can apply; otherwise the probe's choice.</summary>
    public static PackingChoice Choose(WeightLayout layout, ProbeWorkload workload, ScalarType dtype, Device device, TimeSpan budget)
    {
        if (!GemmRows.Pads(dtype, device))
            return new PackingChoice(false, "packing applies to bf16/fp16 products on a CPU");
        if (!PackedLinear.Available(device)) return new PackingChoice(false, "libtorch has no oneDNN linear operators here");
        if (layout != WeightLayout.Auto) return new PackingChoice(layout == WeightLayout.Packed, "configured");
        var clock = Stopwatch.StartNew();
        double[] plain = new double[2], packed = new double[2];
        var shapes = workload.Single.Select(s => (s, 0)).Concat(workload.Saturated.Select(s => (s, 1))).OrderByDescending(x => x.s.Flops).ToList();
        var slice = TimeSpan.FromTicks(Math.Max(1, budget.Ticks / Math.Max(1, 4 * shapes.Count)));
        foreach (var (shape, w) in shapes)
        {
            if (clock.Elapsed >= budget && plain[0] > 0 && plain[1] > 0) break;
            if (GemmTimer.BestSeconds(shape, dtype, device, slice) is not { } a) continue;
            if (GemmTimer.BestSeconds(shape, dtype, device, slice, packed: true) is not { } b)
                return new PackingChoice(false, $"no packed {ModelPrecisions.ShortName(dtype)} kernel here");
            plain[w] += a * shape.Count;
            packed[w] += b * shape.Count;
        }
        if (plain[0] <= 0 || plain[1] <= 0) return new PackingChoice(false, "nothing measured within the probe budget");
        double score = (packed[0] / plain[0] + packed[1] / plain[1]) / 2;
        return new PackingChoice(score < 1, string.Create(CultureInfo.InvariantCulture, $"{workload.Name}'s products packed take {score:F2}× the plain time; probe {clock.Elapsed.TotalSeconds:F2} s"),
            plain[0], packed[0], plain[1], packed[1]);
    }
}
