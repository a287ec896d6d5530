using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using DetailFlow.Core.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace DetailFlow.Core.Gpt;

/// <summary>
/// A cached forward's attention as one pass over host memory: rotates the block's queries and keys (2-D rotary),
/// writes its keys and values into the <see cref="KvCache"/> at their write positions, then for each row and head
/// attends every query over the cache's first <c>keyCount</c> positions under the boolean mask (scale 1/√hd, softmax,
/// weighted values) in float32, and returns the heads merged, [B, L, D], in the activations' dtype. The same result as
/// the rotary, indexed writes, SDPA and transpose of <see cref="Attention"/> (to within the rounding of reduced
/// precision), without their per-call costs: at a decode step's small blocks libtorch's CPU SDPA spends most of its
/// time outside arithmetic (docs/performance.md, "A step's small ops in one pass"). Whether it runs is measured when a
/// model loads (<see cref="AttentionProbe"/>). CPU, float32 or bfloat16, head dims a multiple of 16; inference only.
/// </summary>
public static class CachedAttention
{
    private const int Lanes = HostVectors.Lanes;

    /// <summary>Below this many query·key pairs (over all rows and heads) one thread does the work: waking another costs more.</summary>
    private const long ParallelPairs = 8192;

    [ThreadStatic] private static float[]? t_scratch;

    // The kernels below are compiled optimized at once (AggressiveOptimization): their unoptimized first tier runs
    // vector code tens of times slower, which would mislead the load-time probe and slow a service's first requests.

    /// <summary>Whether <see cref="Run"/> handles activations of <paramref name="dtype"/> on <paramref name="device"/> with heads of <paramref name="headDim"/>.</summary>
    public static bool Supports(ScalarType dtype, Device device, int headDim) =>
        device.type == DeviceType.CPU && dtype is ScalarType.Float32 or ScalarType.BFloat16 && headDim % Lanes == 0;

    /// <summary>
    /// projected [B, L, 3H·hd]: the block's query, key and value projections, unrotated; rotary [B or 1, L, hd/2, 2]
    /// float32 (cos, sin of each pair, <see cref="Rotary2D"/>); writeIndex [B, L] absolute positions; mask [B, 1, L,
    /// keyCount], True = may attend. Rotates q and k as <see cref="Rotary2D.Apply"/> does (in float32, cast back to the
    /// activations' dtype), writes keys and values of rows 0..B−1 of <paramref name="layer"/> and returns the attended
    /// values [B, L, H·hd].
    /// </summary>
    public static Tensor Run(KvCache cache, int layer, Tensor projected, Tensor rotary, Tensor writeIndex, Tensor mask, long keyCount)
    {
        var keys = cache.KeyBuffer(layer);
        var values = cache.ValueBuffer(layer);
        long b = projected.shape[0], l = projected.shape[1], h = keys.shape[1], hd = keys.shape[3];
        if (!Supports(projected.dtype, projected.device, (int)hd) || keys.dtype != projected.dtype || projected.shape[2] != 3 * h * hd)
            throw new ArgumentException($"no one-pass attention for {projected.dtype} activations [{string.Join(", ", projected.shape)}] over a {keys.dtype} cache of {h} heads × {hd} on {projected.device}", nameof(projected));
        if (b > cache.MaxRows) throw new ArgumentOutOfRangeException(nameof(projected), b, $"batch of {b} rows exceeds the cache's {cache.MaxRows}");
        if (keyCount <= 0 || keyCount > cache.TrashSlot)
            throw new ArgumentOutOfRangeException(nameof(keyCount), keyCount, $"key count must be in 1..{cache.TrashSlot}");
        long rotaryRows = rotary.shape[0];
        if (rotaryRows != 1 && rotaryRows != b || rotary.shape[1] != l || rotary.shape[2] * 2 != hd)
            throw new ArgumentException($"rotary rows [{string.Join(", ", rotary.shape)}] do not fit a block of {b} × {l} with head dim {hd}", nameof(rotary));
        if (mask.dtype != ScalarType.Bool) throw new ArgumentException($"the mask must be boolean, not {mask.dtype}", nameof(mask));
        using var scope = torch.NewDisposeScope();
        projected = projected.contiguous();
        rotary = rotary.to(ScalarType.Float32).contiguous();
        var index = writeIndex.to(ScalarType.Int64).contiguous();
        var allowed = mask.expand(b, 1, l, keyCount).contiguous();
        var merged = torch.empty([b, l, h * hd], projected.dtype, projected.device);
        var shape = new Shape((int)b, (int)l, (int)h, (int)hd, cache.Positions, (int)keyCount, projected.dtype == ScalarType.BFloat16 ? 2 : 4, rotaryRows == b);
        unsafe
        {
            var slots = new ReadOnlySpan<long>(TensorMemory.Address(index), (int)(b * l));   // checked before anything is written
            foreach (long slot in slots)
                if ((ulong)slot >= (ulong)cache.Positions)
                    throw new ArgumentOutOfRangeException(nameof(writeIndex), slot, $"write positions must lie in 0..{cache.TrashSlot}");
            var buffers = new Buffers((byte*)TensorMemory.Address(projected), (float*)TensorMemory.Address(rotary), (byte*)TensorMemory.Address(keys),
                (byte*)TensorMemory.Address(values), (long*)TensorMemory.Address(index), (bool*)TensorMemory.Address(allowed),
                (byte*)TensorMemory.Address(merged));
            TorchThreads.Split((int)(b * h), small: b * h * l * keyCount < ParallelPairs, (from, to) => RunHeads(shape, buffers, from, to));
        }
        return merged.MoveToOuterDisposeScope();
    }

    private readonly record struct Shape(int Rows, int Length, int Heads, int HeadDim, int Positions, int Width, int ElementSize, bool RotaryPerRow);

    private readonly unsafe struct Buffers(byte* projected, float* rotary, byte* keys, byte* values, long* writeIndex, bool* mask, byte* output)
    {
        public readonly byte* Projected = projected, Keys = keys, Values = values, Output = output;
        public readonly float* Rotary = rotary;
        public readonly long* WriteIndex = writeIndex;
        public readonly bool* Mask = mask;
    }

    /// <summary>Rows·heads [from, to) of the batch, each one (row, head) pair.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void RunHeads(Shape s, Buffers p, int from, int to)
    {
        int hd = s.HeadDim, width = s.Width, padded = (width + Lanes - 1) / Lanes * Lanes, es = s.ElementSize;
        int need = 2 * s.Length * hd + s.Length * padded + hd;
        var scratch = t_scratch is { } a && a.Length >= need ? a : t_scratch = new float[need];
        float scale = 1f / MathF.Sqrt(hd);
        long dim = (long)s.Heads * hd;
        fixed (float* area = scratch)
        {
            float* q = area, o = q + s.Length * hd, scores = o + s.Length * hd, key = scores + s.Length * padded;
            for (int pair = from; pair < to; pair++)
            {
                int row = pair / s.Heads, head = pair % s.Heads;
                long cacheRow = ((long)row * s.Heads + head) * s.Positions * hd;
                for (int i = 0; i < s.Length; i++)
                {
                    long token = (long)row * s.Length + i;
                    long slot = p.WriteIndex[token];
                    byte* block = p.Projected + (token * 3 * dim + (long)head * hd) * es;   // this head's q; k at +D, v at +2D
                    float* turns = p.Rotary + ((s.RotaryPerRow ? token : i) * hd);
                    HostVectors.ToSingle(block + dim * es, key, hd, es);
                    Rotate(key, turns, hd);
                    HostVectors.FromSingle(key, p.Keys + (cacheRow + slot * hd) * es, hd, es);
                    Copy(block + 2 * dim * es, p.Values + (cacheRow + slot * hd) * es, hd * es);
                    HostVectors.ToSingle(block, q + i * hd, hd, es);
                    Rotate(q + i * hd, turns, hd);
                    if (es == 2) HostVectors.RoundToBFloat16(q + i * hd, hd);                // as the rotated query a cast leaves
                }
                byte* keys = p.Keys + cacheRow * es, values = p.Values + cacheRow * es;
                bool* mask = p.Mask + (long)row * s.Length * width;
                if (es == 2) Attend<BFloat16Row>(q, keys, values, mask, scores, o, s.Length, width, padded, hd, scale);
                else Attend<SingleRow>(q, keys, values, mask, scores, o, s.Length, width, padded, hd, scale);
                for (int i = 0; i < s.Length; i++)
                    HostVectors.FromSingle(o + i * hd, p.Output + ((((long)row * s.Length + i) * s.Heads) + head) * hd * es, hd, es);
            }
        }
    }

    /// <summary>
    /// In place, the interleaved pairs (x0, x1) of <paramref name="x"/> turned by (cos, sin) of <paramref name="turns"/>:
    /// (x0·cos − x1·sin, x1·cos + x0·sin), the product <see cref="Rotary2D.Apply"/> takes as complex numbers.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void Rotate(float* x, float* turns, int hd)
    {
        var swap = Vector512.Create(1, 0, 3, 2, 5, 4, 7, 6, 9, 8, 11, 10, 13, 12, 15, 14);
        var cosines = Vector512.Create(0, 0, 2, 2, 4, 4, 6, 6, 8, 8, 10, 10, 12, 12, 14, 14);
        var sines = cosines + Vector512<int>.One;
        var sign = Vector512.Create(-1f, 1f, -1f, 1f, -1f, 1f, -1f, 1f, -1f, 1f, -1f, 1f, -1f, 1f, -1f, 1f);
        for (int d = 0; d < hd; d += Lanes)
        {
            var pairs = Vector512.Load(x + d);
            var t = Vector512.Load(turns + d);
            (pairs * Vector512.Shuffle(t, cosines) + Vector512.Shuffle(pairs, swap) * (Vector512.Shuffle(t, sines) * sign)).Store(x + d);
        }
    }

    /// <summary>o_i = softmax(scores_i) · V for the <paramref name="length"/> queries of one (row, head), over the cache's window as stored (<typeparamref name="T"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void Attend<T>(float* q, byte* keys, byte* values, bool* mask, float* scores, float* o, int length, int width, int padded, int hd,
        float scale) where T : struct, ICacheRow
    {
        Scores<T>(q, keys, mask, scores, length, width, padded, hd, scale);
        for (int i = 0; i < length; i++) Softmax(scores + i * padded, padded);
        Weighted<T>(scores, values, o, length, width, padded, hd);
    }

    /// <summary>
    /// scores[i, j] = scale · q_i·k_j where the mask allows, −∞ elsewhere and in the padding up to <paramref name="padded"/>;
    /// the keys read from the cache as they are stored (<typeparamref name="T"/>), four queries per key read.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void Scores<T>(float* q, byte* keys, bool* mask, float* scores, int length, int width, int padded, int hd, float scale)
        where T : struct, ICacheRow
    {
        for (int i = 0; i < length; i++)
            for (int j = width; j < padded; j++) scores[i * padded + j] = float.NegativeInfinity;
        int first = 0;
        for (; first + 3 < length; first += 4)
        {
            float* q0 = q + first * hd, q1 = q0 + hd, q2 = q1 + hd, q3 = q2 + hd;
            for (int j = 0; j < width; j++)
            {
                long key = (long)j * hd;
                var kv = T.Load(keys, key);
                var a0 = Vector512.Load(q0) * kv;
                var a1 = Vector512.Load(q1) * kv;
                var a2 = Vector512.Load(q2) * kv;
                var a3 = Vector512.Load(q3) * kv;
                for (int d = Lanes; d < hd; d += Lanes)
                {
                    kv = T.Load(keys, key + d);
                    a0 = Vector512.FusedMultiplyAdd(Vector512.Load(q0 + d), kv, a0);
                    a1 = Vector512.FusedMultiplyAdd(Vector512.Load(q1 + d), kv, a1);
                    a2 = Vector512.FusedMultiplyAdd(Vector512.Load(q2 + d), kv, a2);
                    a3 = Vector512.FusedMultiplyAdd(Vector512.Load(q3 + d), kv, a3);
                }
                int at = first * padded + j, allowed = first * width + j;
                scores[at] = mask[allowed] ? Vector512.Sum(a0) * scale : float.NegativeInfinity;
                scores[at + padded] = mask[allowed + width] ? Vector512.Sum(a1) * scale : float.NegativeInfinity;
                scores[at + 2 * padded] = mask[allowed + 2 * width] ? Vector512.Sum(a2) * scale : float.NegativeInfinity;
                scores[at + 3 * padded] = mask[allowed + 3 * width] ? Vector512.Sum(a3) * scale : float.NegativeInfinity;
            }
        }
        for (int i = first; i < length; i++)
        {
            float* q0 = q + i * hd;
            for (int j = 0; j < width; j++)
            {
                long key = (long)j * hd;
                var a0 = Vector512.Load(q0) * T.Load(keys, key);
                for (int d = Lanes; d < hd; d += Lanes) a0 = Vector512.FusedMultiplyAdd(Vector512.Load(q0 + d), T.Load(keys, key + d), a0);
                scores[i * padded + j] = mask[i * width + j] ? Vector512.Sum(a0) * scale : float.NegativeInfinity;
            }
        }
    }

    /// <summary>In place over a row of <paramref name="padded"/> scores; a row with no allowed key becomes zeros (SDPA would give NaN).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void Softmax(float* row, int padded)
    {
        var top = Vector512.Load(row);
        for (int j = Lanes; j < padded; j += Lanes) top = Vector512.Max(top, Vector512.Load(row + j));
        float max = float.NegativeInfinity;
        for (int t = 0; t < Lanes; t++) max = MathF.Max(max, top[t]);
        if (float.IsNegativeInfinity(max))
        {
            for (int j = 0; j < padded; j += Lanes) Vector512<float>.Zero.Store(row + j);
            return;
        }
        var shift = Vector512.Create(max);
        var total = Vector512<float>.Zero;
        for (int j = 0; j < padded; j += Lanes)
        {
            var e = HostVectors.ExpNonPositive(Vector512.Load(row + j) - shift);
            e.Store(row + j);
            total += e;
        }
        var inverse = Vector512.Create(1f / Vector512.Sum(total));
        for (int j = 0; j < padded; j += Lanes) (Vector512.Load(row + j) * inverse).Store(row + j);
    }

    /// <summary>o_i = Σ_j weights[i, j] · v_j, the values read from the cache as stored (<typeparamref name="T"/>), four queries per value read.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void Weighted<T>(float* weights, byte* values, float* o, int length, int width, int padded, int hd)
        where T : struct, ICacheRow
    {
        for (int d = 0; d < hd; d += Lanes)
        {
            int first = 0;
            for (; first + 3 < length; first += 4)
            {
                float* w0 = weights + first * padded, w1 = w0 + padded, w2 = w1 + padded, w3 = w2 + padded;
                var a0 = Vector512<float>.Zero;
                var a1 = Vector512<float>.Zero;
                var a2 = Vector512<float>.Zero;
                var a3 = Vector512<float>.Zero;
                for (int j = 0; j < width; j++)
                {
                    var value = T.Load(values, (long)j * hd + d);
                    a0 = Vector512.FusedMultiplyAdd(Vector512.Create(w0[j]), value, a0);
                    a1 = Vector512.FusedMultiplyAdd(Vector512.Create(w1[j]), value, a1);
                    a2 = Vector512.FusedMultiplyAdd(Vector512.Create(w2[j]), value, a2);
                    a3 = Vector512.FusedMultiplyAdd(Vector512.Create(w3[j]), value, a3);
                }
                a0.Store(o + first * hd + d);
                a1.Store(o + (first + 1) * hd + d);
                a2.Store(o + (first + 2) * hd + d);
                a3.Store(o + (first + 3) * hd + d);
            }
            for (int i = first; i < length; i++)
            {
                float* w0 = weights + i * padded;
                var a0 = Vector512<float>.Zero;
                for (int j = 0; j < width; j++) a0 = Vector512.FusedMultiplyAdd(Vector512.Create(w0[j]), T.Load(values, (long)j * hd + d), a0);
                a0.Store(o + i * hd + d);
            }
        }
    }

    /// <summary>How a cache row's elements become float32: read in place by the kernels, no float32 copy of the window.</summary>
    private unsafe interface ICacheRow
    {
        static abstract Vector512<float> Load(byte* row, long element);
    }

    private readonly unsafe struct BFloat16Row : ICacheRow
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector512<float> Load(byte* row, long element) => HostVectors.Load((ushort*)row + element);
    }

    private readonly unsafe struct SingleRow : ICacheRow
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector512<float> Load(byte* row, long element) => Vector512.Load((float*)row + element);
    }

    private static unsafe void Copy(byte* from, byte* to, long bytes) => Buffer.MemoryCopy(from, to, bytes, bytes);
}
