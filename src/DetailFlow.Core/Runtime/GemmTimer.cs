using System.Diagnostics;
using System.Runtime.InteropServices;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace DetailFlow.Core.Runtime;

/// <summary>
/// Times torch <c>linear</c> the way the models call it (input [M, K], weight [N, K]), on the calling thread with its
/// torch thread count. The first call at a new shape is not timed: oneDNN builds a kernel per shape, MKL warms its
/// buffers. Weights are constant-filled (GEMM speed does not depend on the values; uninitialised memory could hold
/// denormals, which are slow).
/// </summary>
public static class GemmTimer
{
    /// <summary>
    /// Best seconds of one call at <paramref name="shape"/> (a single call, not × Count): one warm-up call, then timed
    /// calls until <paramref name="minTime"/> has passed or <paramref name="maxCalls"/> calls ran (at least one).
    /// Null when <paramref name="dtype"/> cannot run here (e.g. no kernel). <paramref name="packed"/>: with the weight
    /// packed for oneDNN (<see cref="PackedLinear"/>); null where that cannot run. <paramref name="host"/>: that packed
    /// weight multiplied in C# (<see cref="BlockedProduct"/>); null where it cannot be.
    /// </summary>
    public static double? BestSeconds(GemmShape shape, ScalarType dtype, Device device, TimeSpan minTime, int maxCalls = 50, bool packed = false,
        bool host = false)
    {
        using var noGrad = torch.no_grad();
        using var scope = torch.NewDisposeScope();
        try
        {
            var input = torch.full(shape.M, shape.K, 0.01, dtype: dtype, device: device);
            var weight = torch.full(shape.N, shape.K, 0.01, dtype: dtype, device: device);
            var product = host ? (shape.GeluTanh ? null : PackedLinear.HostProduct(weight, shape.M))
                : packed ? PackedLinear.Product(weight, shape.M, shape.GeluTanh)
                : shape.GeluTanh ? x => nn.functional.gelu(nn.functional.linear(x, weight), GELU.Approximate.tanh)
                : x => nn.functional.linear(x, weight);
            if (product is null) return null;
            return Best(() => product(input).Dispose(), device, minTime, maxCalls);
        }
        catch (Exception e) when (e is ExternalException or NotSupportedException or ArgumentException)
        {
            return null;
        }
    }

    /// <summary>The better of the plain and the packed product's <see cref="BestSeconds"/> (the plain one where packing does not apply).</summary>
    public static double? BestOfLayouts(GemmShape shape, ScalarType dtype, Device device, TimeSpan minTime, int maxCalls = 50)
    {
        double? plain = BestSeconds(shape, dtype, device, minTime, maxCalls);
        double? packed = GemmRows.Pads(dtype, device) ? BestSeconds(shape, dtype, device, minTime, maxCalls, packed: true) : null;
        return plain is { } a && packed is { } b ? Math.Min(a, b) : plain ?? packed;
    }

    /// <summary>
    /// Streaming bandwidth in bytes/s: best time of a <c>linear</c> at M = 2 (a guided request's causal step) over a
    /// weight of <paramref name="weightBytes"/> bytes in <paramref name="dtype"/>, larger than the caches, read once per call,
    /// by the fastest product that runs it: either layout (<see cref="BestOfLayouts"/>: a plain bf16 weight is re-laid
    /// out on every call) or the packed weight in C# (<see cref="BlockedProduct"/>).
    /// </summary>
    public static double? StreamingBandwidth(ScalarType dtype, Device device, long weightBytes, TimeSpan minTime)
    {
        long elements = weightBytes / ModelPrecisions.BytesPerElement(dtype);
        const long k = 4096;
        var shape = new GemmShape(2, k, Math.Max(1, elements / k), 1);
        double? seconds = BestOfLayouts(shape, dtype, device, minTime, maxCalls: 20);
        if (GemmRows.Pads(dtype, device) && BestSeconds(shape, dtype, device, minTime, maxCalls: 20, host: true) is { } host)
            seconds = Math.Min(seconds ?? host, host);
        return seconds is { } s ? shape.WeightElements * ModelPrecisions.BytesPerElement(dtype) / s : null;
    }

    /// <summary>Copy bandwidth in bytes/s (bytes read + written) of a float32 tensor copy of <paramref name="bytes"/> bytes.</summary>
    public static double CopyBandwidth(Device device, long bytes, TimeSpan minTime)
    {
        using var noGrad = torch.no_grad();
        using var scope = torch.NewDisposeScope();
        var source = torch.full(bytes / 4, 1f, device: device);
        var target = torch.empty_like(source);
        double best = Best(() => target.copy_(source), device, minTime, maxCalls: 20);
        return 2.0 * bytes / best;
    }

    /// <summary>
    /// Best seconds of <paramref name="call"/>: one warm-up call, then timed calls until <paramref name="minTime"/> has
    /// passed or <paramref name="maxCalls"/> calls ran (at least one), each waited for on <paramref name="device"/>.
    /// </summary>
    public static double Best(Action call, Device device, TimeSpan minTime, int maxCalls)
    {
        call();
        Synchronize(device);
        double best = double.MaxValue;
        var total = Stopwatch.StartNew();
        for (int i = 0; i < maxCalls && (i == 0 || total.Elapsed < minTime); i++)
        {
            var clock = Stopwatch.StartNew();
            call();
            Synchronize(device);
            best = Math.Min(best, clock.Elapsed.TotalSeconds);
        }
        return best;
    }

    private static void Synchronize(Device device)
    {
        if (device.type == DeviceType.CUDA) torch.cuda.synchronize(device);
    }
}
