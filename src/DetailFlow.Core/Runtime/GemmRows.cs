using System.Numerics;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace DetailFlow.Core.Runtime;

/// <summary>
/// Row counts of the products a server runs, rounded up to a few sizes. On a CPU a reduced-precision (bf16, fp16)
/// <c>linear</c> runs a oneDNN kernel JIT-compiled for its exact shape, and a continuous batch changes its row count nearly
/// every step (packed newcomers, logits rows, the decoder's batch × tokens): unrounded, a GPT-L service compiled new
/// kernels all day, evicted as many, and its heap fragmented around them (docs/memory.md). Rounded to four sizes per
/// octave (at most a quarter more rows) the set is small enough to compile before the service reports ready
/// (<see cref="Warm"/>) and to stay in oneDNN's cache. Padding rows are zeros and are dropped after the product, so a
/// real row's result does not depend on them. fp32 (MKL) and CUDA products have no per-shape kernels and run unpadded.
/// </summary>
public static class GemmRows
{
    /// <summary>1, 2, 4, 8, 16, then four sizes per octave: 20, 24, 28, 32, 40, 48, 56, 64, 80, …</summary>
    public static long Bucket(long rows)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(rows);
        long top = (long)BitOperations.RoundUpToPowerOf2((ulong)rows);
        if (rows <= 16) return top;
        long unit = top / 8;
        return (rows + unit - 1) / unit * unit;
    }

    /// <summary>Whether products over <paramref name="x"/> run per-shape kernels (reduced precision on a CPU).</summary>
    public static bool Pads(Tensor x) => Pads(x.dtype, x.device);

    /// <summary>Whether products in <paramref name="dtype"/> on <paramref name="device"/> run per-shape kernels.</summary>
    public static bool Pads(ScalarType dtype, Device device) =>
        device.type == DeviceType.CPU && dtype is ScalarType.BFloat16 or ScalarType.Float16;

    /// <summary><paramref name="layer"/>(x) with the rows of x [..., K] (every dimension but the last) padded to a <see cref="Bucket"/>.</summary>
    public static Tensor Linear(Linear layer, Tensor x) => RowWise(x, h => PackedLinear.Forward(layer, h));

    /// <summary>
    /// <paramref name="f"/> over the rows of <paramref name="x"/> [..., K], padded to a <see cref="Bucket"/> → [..., N].
    /// <paramref name="f"/> maps [M, K] → [M, N] and must treat each row alone (linear layers, an MLP, a norm).
    /// </summary>
    public static Tensor RowWise(Tensor x, Func<Tensor, Tensor> f)
    {
        long k = x.shape[^1], rows = k == 0 ? 0 : x.numel() / k;
        if (rows == 0 || !Pads(x)) return f(x);
        using var scope = NewDisposeScope();
        // Always as a matrix: torch runs a biased linear on [M, K] and on [B, L, K] through different kernels.
        var matrix = x.reshape(rows, k);
        long bucket = Bucket(rows);
        var padded = bucket == rows ? matrix : nn.functional.pad(matrix, [0, 0, 0, bucket - rows]);            // [bucket, K]
        var y = f(padded);                                                                                      // [bucket, N]
        long[] shape = [.. x.shape[..^1], y.shape[^1]];
        return y.narrow(0, 0, rows).view(shape).MoveToOuterDisposeScope();
    }

    /// <summary>Every bucket that row counts in [1, <paramref name="maxRows"/>] round to.</summary>
    public static IReadOnlyList<long> BucketsUpTo(long maxRows)
    {
        var buckets = new List<long>();
        for (long b = 1; b <= maxRows; b = Bucket(b) + 1) buckets.Add(Bucket(b));
        return buckets;
    }

    /// <summary>
    /// Compiles, before traffic, the kernels of every distinct linear shape of <paramref name="model"/> at each of
    /// <paramref name="rows"/> (rounded to buckets): one product on zeros per shape and bucket (with its GELU epilogue for
    /// layers marked by <see cref="PackedLinear.WithGeluTanh"/>), on the calling thread
    /// (oneDNN keys its kernels by the thread count too, so call it on a thread configured like the one that will run
    /// the model). Nothing to do where products run unpadded. Returns the number of products run.
    /// </summary>
    public static int Warm(nn.Module model, IEnumerable<long> rows)
    {
        var linears = model.modules().OfType<Linear>()
            .DistinctBy(l => (l.weight!.shape[0], l.weight.shape[1], l.bias is null, PackedLinear.HasGeluTanh(l)))
            .ToList();
        if (linears.Count == 0) return 0;
        var weight = linears[0].weight!;
        if (!Pads(weight)) return 0;
        int products = 0;
        using var noGrad = torch.no_grad();
        foreach (long m in rows.Select(Bucket).Distinct().Order())
            foreach (var layer in linears)
            {
                using var scope = NewDisposeScope();
                var x = torch.zeros([m, layer.weight!.shape[1]], weight.dtype, weight.device);
                _ = PackedLinear.HasGeluTanh(layer) ? PackedLinear.ForwardGeluTanh(layer, x) : PackedLinear.Forward(layer, x);
                products++;
            }
        return products;
    }
}
