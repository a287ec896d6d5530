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
/// read once per four rows. float32 accumulation in input order (each pair's odd input first, as the bf16 dot-product
/// instruction adds them), rounded to bf16 once; the result matched oneDNN's bit for bit but for a few elements per
/// hundred thousand (tests: within one bf16 rounding). Up to how many rows it runs is measured at load
/// (<see cref="BlockedProductProbe"/>).
/// </summary>
public static class BlockedProduct
{
    /// <summary>Outputs per block of the layout.</summary>
    public const int Block = 64;

    [ThreadStatic] private static float[]? t_inputs;

    /// <summary>
    /// A view of the packed weight at <paramref name="address"/> (<paramref name="bytes"/> long, packed from
    /// <paramref name="plain"/> [N, K] bf16) for products in C#, or null where its memory cannot be reached or does not
    /// hold the layout <see cref="BlockedWeight"/> describes: N a multiple of 64, K of 16 (the inputs are widened 16 at a
    /// time), and the elements of the first and last blocks and a sample of the rest where the layout puts them.
    /// </summary>
    public static unsafe BlockedWeight? Read(Tensor plain, nint address, long bytes)
    {
        if (plain.dtype != ScalarType.BFloat16 || plain.dim() != 2 || address == 0) return null;
        long n = plain.shape[0], k = plain.shape[1];
        if (n % Block != 0 || k % HostVectors.Lanes != 0 || bytes != n * k * 2 || n * k > int.MaxValue) return null;
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
        if (x.dtype != ScalarType.BFloat16 || x.device_type != DeviceType.CPU || x.dim() < 1 || x.shape[^1] != weight.Inputs)
            throw new ArgumentException($"expected bf16 CPU rows of {weight.Inputs}, got {x.dtype} [{string.Join(", ", x.shape)}] on {x.device_type}", nameof(x));
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
        /// <summary>Outputs [64·block, 64·block + 64) of every row: four rows at a time, then two (an odd last row computed twice, stored once).</summary>
        public void Run(int block)
        {
            uint* w = weight + (long)block * Block * k / 2;
            ushort* outputs = y + block * Block;
            int r = 0;
            for (; r + 3 < rows; r += 4)
            {
                float* x0 = x + (long)r * k;
                ushort* y0 = outputs + (long)r * n;
                Rows<FourRows>(x0, x0 + k, x0 + 2 * k, x0 + 3 * k, w, y0, y0 + n, y0 + 2 * n, y0 + 3 * n, k);
            }
            for (; r < rows; r += 2)
            {
                float* x0 = x + (long)r * k;
                bool pair = r + 1 < rows;
                ushort* y0 = outputs + (long)r * n;
                Rows<TwoRows>(x0, pair ? x0 + k : x0, null, null, w, y0, pair ? y0 + n : null, null, null, k);
            }
        }
    }

    private interface IRowCount
    {
        static abstract bool Four { get; }
    }

    private readonly struct FourRows : IRowCount
    {
        public static bool Four => true;
    }

    private readonly struct TwoRows : IRowCount
    {
        public static bool Four => false;
    }

    /// <summary>
    /// 64 outputs of rows x0, x1 (and x2, x3 for <see cref="FourRows"/>) over a block's K/2 input pairs; a null output
    /// row is not stored. Specialised per row count, so each keeps its accumulators in registers.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void Rows<T>(float* x0, float* x1, float* x2, float* x3, uint* w, ushort* y0, ushort* y1, ushort* y2, ushort* y3, int k)
        where T : struct, IRowCount
    {
        Sums a = default, b = default, c = default, d = default;
        for (int i = 0; i < k; i += 2, w += Block)
        {
            var line = new Line(w);
            a = a.Add(x0 + i, line);
            b = b.Add(x1 + i, line);
            if (T.Four)
            {
                c = c.Add(x2 + i, line);
                d = d.Add(x3 + i, line);
            }
        }
        a.Store(y0);
        if (y1 != null) b.Store(y1);
        if (T.Four)
        {
            c.Store(y2);
            d.Store(y3);
        }
    }

    /// <summary>A block's 64 weights for one input pair, widened: the even input's and the odd input's, 16 outputs per vector.</summary>
    private readonly unsafe struct Line
    {
        public readonly Vector512<float> E0, E1, E2, E3, O0, O1, O2, O3;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public Line(uint* w)
        {
            var high = Vector512.Create(0xFFFF0000u);
            var l0 = Vector512.Load(w);
            var l1 = Vector512.Load(w + 16);
            var l2 = Vector512.Load(w + 32);
            var l3 = Vector512.Load(w + 48);
            (E0, O0) = ((l0 << 16).AsSingle(), (l0 & high).AsSingle());
            (E1, O1) = ((l1 << 16).AsSingle(), (l1 & high).AsSingle());
            (E2, O2) = ((l2 << 16).AsSingle(), (l2 & high).AsSingle());
            (E3, O3) = ((l3 << 16).AsSingle(), (l3 & high).AsSingle());
        }
    }

    /// <summary>One row's 64 float32 sums.</summary>
    private readonly unsafe struct Sums(Vector512<float> s0, Vector512<float> s1, Vector512<float> s2, Vector512<float> s3)
    {
        private readonly Vector512<float> _s0 = s0, _s1 = s1, _s2 = s2, _s3 = s3;

        /// <summary>These sums plus the row's input pair at <paramref name="x"/> times <paramref name="line"/> (the odd input first).</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public Sums Add(float* x, in Line line)
        {
            var even = Vector512.Create(x[0]);
            var odd = Vector512.Create(x[1]);
            return new Sums(Vector512.FusedMultiplyAdd(even, line.E0, Vector512.FusedMultiplyAdd(odd, line.O0, _s0)),
                Vector512.FusedMultiplyAdd(even, line.E1, Vector512.FusedMultiplyAdd(odd, line.O1, _s1)),
                Vector512.FusedMultiplyAdd(even, line.E2, Vector512.FusedMultiplyAdd(odd, line.O2, _s2)),
                Vector512.FusedMultiplyAdd(even, line.E3, Vector512.FusedMultiplyAdd(odd, line.O3, _s3)));
        }

        /// <summary>Rounded to bf16 and stored at <paramref name="y"/>.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Store(ushort* y)
        {
            HostVectors.Store(_s0, y);
            HostVectors.Store(_s1, y + 16);
            HostVectors.Store(_s2, y + 32);
            HostVectors.Store(_s3, y + 48);
        }
    }
}
