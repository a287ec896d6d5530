using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using TorchSharp;
using static TorchSharp.torch;

namespace DetailFlow.Core.Runtime;

/// <summary>
/// A packed bf16 weight [N, K] read in place by <see cref="BlockedProduct"/>: oneDNN's blocked layout for these products,
/// blocks of 64 outputs, each holding its K inputs as pairs, the pair of each output next to the next output's
/// (element (n, k) at (n / 64)·64K + (k / 2)·128 + (n mod 64)·2 + k mod 2). The layout is checked against the plain
/// weight when it is packed (<see cref="BlockedProduct.Read"/>); only a weight that matched is read, and only while the
/// packed tensor lives (the layer that holds it keeps it).
/// </summary>
public sealed class BlockedWeight
{
    internal BlockedWeight(nint address, int outputs, int inputs)
    {
        Address = address;
        Outputs = outputs;
        Inputs = inputs;
    }

    internal nint Address { get; }

    /// <summary>N.</summary>
    public int Outputs { get; }

    /// <summary>K.</summary>
    public int Inputs { get; }

    /// <summary>Products of up to this many rows run in C# (<see cref="BlockedProduct.Forward"/>); 0: none.</summary>
    public int HostRows { get; set; }
}

/// <summary>
/// Products of a few rows by a packed bf16 weight, written in C#. At a decode step's few rows a product is a pass over
/// the weight with little arithmetic per byte; oneDNN's kernels stream it at about half of what the cores can read
/// (docs/performance.md, "Few-row products in C#"). Here each 64-output block is one part of a <see cref="KernelTeam"/>
/// job: every 64-byte line of the block holds 16 outputs × one input pair, widened to float32 by a shift and a mask,
/// then multiplied into 16-lane accumulators for four (or two) rows at a time — no horizontal sums, each weight line
/// read once per four rows. float32 accumulation in input order (each pair's odd input first, as the bf16 dot-product instruction adds them), rounded to bf16 once; the result matched oneDNN's bit
/// for bit where measured (tests: within one bf16 rounding). Up to how many rows it runs is measured at load
/// (<see cref="BlockedProductProbe"/>).
/// </summary>
public static class BlockedProduct
{
    /// <summary>Outputs per block of the layout.</summary>
    public const int Block = 64;

    [ThreadStatic] private static float[]? t_inputs;

    /// <summary>
    /// A view of the packed weight at <paramref name="address"/> (<paramref name="bytes"/> long, packed from
    /// <paramref name="plain"/> [N, K] bf16) for products in C#, or null
    /// where its memory cannot be reached or does not hold the layout <see cref="BlockedWeight"/> describes: N a multiple
    /// of 64, K even, and the elements of the first and last blocks and a sample of the rest where the layout puts them.
    /// </summary>
    public static unsafe BlockedWeight? Read(Tensor plain, nint address, long bytes)
    {
        if (plain.dtype != ScalarType.BFloat16 || plain.dim() != 2 || address == 0) return null;
        long n = plain.shape[0], k = plain.shape[1];
        if (n % Block != 0 || k % 2 != 0 || bytes != n * k * 2 || n * k > int.MaxValue) return null;
        using var scope = torch.NewDisposeScope();
        var rows = plain.contiguous();
        var source = (ushort*)TensorMemory.Address(rows);
        var packed = (ushort*)address;
        bool Matches(long o, long i) => packed[Offset(o, i, k)] == source[o * k + i];
        long blocks = n / Block;
        long[] checkedBlocks = blocks == 1 ? [0] : [0, blocks - 1];
        foreach (long b in checkedBlocks)
            for (long o = b * Block; o < (b + 1) * Block; o++)
                for (long i = 0; i < k; i++)
                    if (!Matches(o, i)) return null;
        var random = new Random(1);
        for (int s = 0; s < 4096; s++)
            if (!Matches(random.NextInt64(n), random.NextInt64(k))) return null;
        return new BlockedWeight(address, (int)n, (int)k);
    }

    /// <summary>Where element (n, k) of a [N, K] weight lies in the blocked layout.</summary>
    public static long Offset(long n, long k, long inputs) => n / Block * Block * inputs + k / 2 * 2 * Block + n % Block * 2 + k % 2;

    /// <summary>Whether <see cref="Forward"/> runs <paramref name="x"/> by <paramref name="weight"/> (rows within its <see cref="BlockedWeight.HostRows"/>).</summary>
    public static bool Takes(BlockedWeight weight, Tensor x) =>
        weight.HostRows > 0 && x.dtype == ScalarType.BFloat16 && x.device_type == DeviceType.CPU && x.dim() >= 1 && x.shape[^1] == weight.Inputs
        && x.numel() / weight.Inputs is > 0 and var rows && rows <= weight.HostRows && !torch.is_grad_enabled();

    /// <summary>x [..., K] bf16 times the weight's transpose → [..., N] bf16, on the calling thread's torch threads. The caller keeps the packed tensor alive.</summary>
    public static unsafe Tensor Forward(BlockedWeight weight, Tensor x)
    {
        int k = weight.Inputs, n = weight.Outputs, rows = (int)(x.numel() / k);
        using var scope = torch.NewDisposeScope();
        var input = x.contiguous();
        long[] shape = [.. x.shape[..^1], n];
        var y = torch.empty(shape, ScalarType.BFloat16);
        int need = rows * k;
        var inputs = t_inputs is { } a && a.Length >= need ? a : t_inputs = GC.AllocateUninitializedArray<float>(need, pinned: true);
        var xf = (float*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(inputs));   // pinned: helpers read it
        HostVectors.ToSingle((byte*)TensorMemory.Address(input), xf, need, 2);
        var product = new Product(xf, (uint*)weight.Address, (ushort*)TensorMemory.Address(y), rows, k, n);
        KernelTeam.Run(n / Block, TorchThreads.Current, product.Run);
        return y.MoveToOuterDisposeScope();
    }

    private sealed unsafe class Product(float* x, uint* weight, ushort* y, int rows, int k, int n)
    {
        /// <summary>Outputs [64·block, 64·block + 64) of every row.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(int block)
        {
            uint* w = weight + (long)block * Block * k / 2;
            ushort* outputs = y + block * Block;
            int r = 0;
            for (; r + 3 < rows; r += 4) Four(x + (long)r * k, w, outputs + (long)r * n, k, n);
            for (; r < rows; r += 2)
            {
                float* x0 = x + (long)r * k;
                Two(x0, r + 1 < rows ? x0 + k : x0, w, outputs + (long)r * n, r + 1 < rows ? outputs + (long)(r + 1) * n : null, k);
            }
        }
    }

    /// <summary>64 outputs of rows x, x + k, x + 2k, x + 3k over a block's K/2 input pairs.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void Four(float* x, uint* w, ushort* y, int k, int n)
    {
        var high = Vector512.Create(0xFFFF0000u);
        Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default, b0 = default, b1 = default, b2 = default, b3 = default,
            c0 = default, c1 = default, c2 = default, c3 = default, d0 = default, d1 = default, d2 = default, d3 = default;
        float* x1 = x + k, x2 = x1 + k, x3 = x2 + k;
        for (int i = 0; i < k; i += 2, w += Block)
        {
            var l0 = Vector512.Load(w);
            var l1 = Vector512.Load(w + 16);
            var l2 = Vector512.Load(w + 32);
            var l3 = Vector512.Load(w + 48);
            Vector512<float> e0 = (l0 << 16).AsSingle(), o0 = (l0 & high).AsSingle(), e1 = (l1 << 16).AsSingle(), o1 = (l1 & high).AsSingle(),
                e2 = (l2 << 16).AsSingle(), o2 = (l2 & high).AsSingle(), e3 = (l3 << 16).AsSingle(), o3 = (l3 & high).AsSingle();
            var even = Vector512.Create(x[i]);
            var odd = Vector512.Create(x[i + 1]);
            a0 = Vector512.FusedMultiplyAdd(even, e0, Vector512.FusedMultiplyAdd(odd, o0, a0));
            a1 = Vector512.FusedMultiplyAdd(even, e1, Vector512.FusedMultiplyAdd(odd, o1, a1));
            a2 = Vector512.FusedMultiplyAdd(even, e2, Vector512.FusedMultiplyAdd(odd, o2, a2));
            a3 = Vector512.FusedMultiplyAdd(even, e3, Vector512.FusedMultiplyAdd(odd, o3, a3));
            even = Vector512.Create(x1[i]);
            odd = Vector512.Create(x1[i + 1]);
            b0 = Vector512.FusedMultiplyAdd(even, e0, Vector512.FusedMultiplyAdd(odd, o0, b0));
            b1 = Vector512.FusedMultiplyAdd(even, e1, Vector512.FusedMultiplyAdd(odd, o1, b1));
            b2 = Vector512.FusedMultiplyAdd(even, e2, Vector512.FusedMultiplyAdd(odd, o2, b2));
            b3 = Vector512.FusedMultiplyAdd(even, e3, Vector512.FusedMultiplyAdd(odd, o3, b3));
            even = Vector512.Create(x2[i]);
            odd = Vector512.Create(x2[i + 1]);
            c0 = Vector512.FusedMultiplyAdd(even, e0, Vector512.FusedMultiplyAdd(odd, o0, c0));
            c1 = Vector512.FusedMultiplyAdd(even, e1, Vector512.FusedMultiplyAdd(odd, o1, c1));
            c2 = Vector512.FusedMultiplyAdd(even, e2, Vector512.FusedMultiplyAdd(odd, o2, c2));
            c3 = Vector512.FusedMultiplyAdd(even, e3, Vector512.FusedMultiplyAdd(odd, o3, c3));
            even = Vector512.Create(x3[i]);
            odd = Vector512.Create(x3[i + 1]);
            d0 = Vector512.FusedMultiplyAdd(even, e0, Vector512.FusedMultiplyAdd(odd, o0, d0));
            d1 = Vector512.FusedMultiplyAdd(even, e1, Vector512.FusedMultiplyAdd(odd, o1, d1));
            d2 = Vector512.FusedMultiplyAdd(even, e2, Vector512.FusedMultiplyAdd(odd, o2, d2));
            d3 = Vector512.FusedMultiplyAdd(even, e3, Vector512.FusedMultiplyAdd(odd, o3, d3));
        }
        Store(a0, a1, a2, a3, y);
        Store(b0, b1, b2, b3, y + n);
        Store(c0, c1, c2, c3, y + 2 * n);
        Store(d0, d1, d2, d3, y + 3 * n);
    }

    /// <summary>64 outputs of rows <paramref name="x0"/> and <paramref name="x1"/> (the same row again for an odd last one, <paramref name="y1"/> null).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void Two(float* x0, float* x1, uint* w, ushort* y0, ushort* y1, int k)
    {
        var high = Vector512.Create(0xFFFF0000u);
        Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default, b0 = default, b1 = default, b2 = default, b3 = default;
        for (int i = 0; i < k; i += 2, w += Block)
        {
            var l0 = Vector512.Load(w);
            var l1 = Vector512.Load(w + 16);
            var l2 = Vector512.Load(w + 32);
            var l3 = Vector512.Load(w + 48);
            Vector512<float> e0 = (l0 << 16).AsSingle(), o0 = (l0 & high).AsSingle(), e1 = (l1 << 16).AsSingle(), o1 = (l1 & high).AsSingle(),
                e2 = (l2 << 16).AsSingle(), o2 = (l2 & high).AsSingle(), e3 = (l3 << 16).AsSingle(), o3 = (l3 & high).AsSingle();
            var even = Vector512.Create(x0[i]);
            var odd = Vector512.Create(x0[i + 1]);
            a0 = Vector512.FusedMultiplyAdd(even, e0, Vector512.FusedMultiplyAdd(odd, o0, a0));
            a1 = Vector512.FusedMultiplyAdd(even, e1, Vector512.FusedMultiplyAdd(odd, o1, a1));
            a2 = Vector512.FusedMultiplyAdd(even, e2, Vector512.FusedMultiplyAdd(odd, o2, a2));
            a3 = Vector512.FusedMultiplyAdd(even, e3, Vector512.FusedMultiplyAdd(odd, o3, a3));
            even = Vector512.Create(x1[i]);
            odd = Vector512.Create(x1[i + 1]);
            b0 = Vector512.FusedMultiplyAdd(even, e0, Vector512.FusedMultiplyAdd(odd, o0, b0));
            b1 = Vector512.FusedMultiplyAdd(even, e1, Vector512.FusedMultiplyAdd(odd, o1, b1));
            b2 = Vector512.FusedMultiplyAdd(even, e2, Vector512.FusedMultiplyAdd(odd, o2, b2));
            b3 = Vector512.FusedMultiplyAdd(even, e3, Vector512.FusedMultiplyAdd(odd, o3, b3));
        }
        Store(a0, a1, a2, a3, y0);
        if (y1 != null) Store(b0, b1, b2, b3, y1);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void Store(Vector512<float> v0, Vector512<float> v1, Vector512<float> v2, Vector512<float> v3, ushort* y)
    {
        HostVectors.Store(v0, y);
        HostVectors.Store(v1, y + 16);
        HostVectors.Store(v2, y + 32);
        HostVectors.Store(v3, y + 48);
    }
}
