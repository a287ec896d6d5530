using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using DetailFlow.Core.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace DetailFlow.Core.Gpt;

/// <summary>
/// A cached forward's attention as one pass over host memory: writes the block's keys and values into the
/// <see cref="KvCache"/> at their write positions, then for each row and head attends every query over the cache's
/// first <c>keyCount</c> positions under the boolean mask (scale 1/√hd, softmax, weighted values) in float32, and
/// returns the heads merged, [B, L, D], in the activations' dtype. The same result as the cache's indexed writes,
/// SDPA and the transpose of <see cref="Attention"/> (to within the rounding of reduced precision), without their
/// per-call costs: at a decode step's small blocks libtorch's CPU SDPA spends most of its time outside arithmetic
/// (docs/performance.md, "Attention in one pass"). Whether it runs is measured when a model loads
/// (<see cref="AttentionKernel"/>). CPU, float32 or bfloat16, head dims a multiple of 16; inference only.
/// </summary>
public static class CachedAttention
{
    private const int Lanes = 16; // Vector512<float>.Count

    /// <summary>Below this many query·key pairs (over all rows and heads) one thread does the work: waking another costs more.</summary>
    private const long ParallelPairs = 8192;

    [ThreadStatic] private static float[]? t_scratch;

    // The kernels below are compiled optimized at once (AggressiveOptimization): their unoptimized first tier runs
    // vector code tens of times slower, which would mislead the load-time probe and slow a service's first requests.

    /// <summary>Whether <see cref="Run"/> handles activations of <paramref name="dtype"/> on <paramref name="device"/> with heads of <paramref name="headDim"/>.</summary>
    public static bool Supports(ScalarType dtype, Device device, int headDim) =>
        device.type == DeviceType.CPU && dtype is ScalarType.Float32 or ScalarType.BFloat16 && headDim % Lanes == 0;

    /// <summary>
    /// qk [B, L, 2H, hd]: the rotated queries (heads 0..H−1) and keys (heads H..2H−1); v [B, L, H, hd] (any strides
    /// with the last one 1); writeIndex [B, L] absolute positions; mask [B, 1, L, keyCount], True = may attend.
    /// Writes keys and values of rows 0..B−1 of <paramref name="layer"/> and returns the attended values [B, L, H·hd].
    /// </summary>
    public static Tensor Run(KvCache cache, int layer, Tensor qk, Tensor v, Tensor writeIndex, Tensor mask, long keyCount)
    {
        long b = qk.shape[0], l = qk.shape[1], h = qk.shape[2] / 2, hd = qk.shape[3];
        var keys = cache.KeyBuffer(layer);
        var values = cache.ValueBuffer(layer);
        if (!Supports(qk.dtype, qk.device, (int)hd) || keys.dtype != qk.dtype || v.dtype != qk.dtype)
            throw new ArgumentException($"no one-pass attention for {qk.dtype} activations, {keys.dtype} cache, head dim {hd} on {qk.device}", nameof(qk));
        if (b > cache.MaxRows) throw new ArgumentOutOfRangeException(nameof(qk), b, $"batch of {b} rows exceeds the cache's {cache.MaxRows}");
        if (keyCount <= 0 || keyCount > cache.TrashSlot)
            throw new ArgumentOutOfRangeException(nameof(keyCount), keyCount, $"key count must be in 1..{cache.TrashSlot}");
        if (v.stride(3) != 1) v = v.contiguous();
        using var scope = torch.NewDisposeScope();
        qk = qk.contiguous();
        var index = writeIndex.to(ScalarType.Int64).contiguous();
        var allowed = mask.expand(b, 1, l, keyCount).contiguous();
        var merged = torch.empty([b, l, h * hd], qk.dtype, qk.device);
        var shape = new Shape((int)b, (int)l, (int)h, (int)hd, cache.Positions, (int)keyCount, qk.dtype == ScalarType.BFloat16 ? 2 : 4,
            v.stride(0), v.stride(1), v.stride(2));
        unsafe
        {
            var buffers = new Buffers((byte*)TensorMemory.Address(qk), (byte*)TensorMemory.Address(v), (byte*)TensorMemory.Address(keys),
                (byte*)TensorMemory.Address(values), (long*)TensorMemory.Address(index), (bool*)TensorMemory.Address(allowed),
                (byte*)TensorMemory.Address(merged));
            int heads = (int)(b * h);
            int workers = b * h * l * keyCount < ParallelPairs ? 1 : Math.Clamp(TorchThreads.Current, 1, heads);
            if (workers == 1) RunHeads(shape, buffers, 0, heads);
            else Parallel.For(0, workers, w => RunHeads(shape, buffers, heads * w / workers, heads * (w + 1) / workers));
        }
        return merged.MoveToOuterDisposeScope();
    }

    private readonly record struct Shape(int Rows, int Length, int Heads, int HeadDim, int Positions, int Width, int ElementSize,
        long VRowStride, long VPositionStride, long VHeadStride);

    private readonly unsafe struct Buffers(byte* qk, byte* v, byte* keys, byte* values, long* writeIndex, bool* mask, byte* output)
    {
        public readonly byte* Qk = qk, V = v, Keys = keys, Values = values, Output = output;
        public readonly long* WriteIndex = writeIndex;
        public readonly bool* Mask = mask;
    }

    /// <summary>Rows·heads [from, to) of the batch, each one (row, head) pair.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void RunHeads(Shape s, Buffers p, int from, int to)
    {
        int hd = s.HeadDim, width = s.Width, padded = (width + Lanes - 1) / Lanes * Lanes, es = s.ElementSize;
        int need = 2 * width * hd + 2 * s.Length * hd + s.Length * padded;
        var scratch = t_scratch is { } a && a.Length >= need ? a : t_scratch = new float[need];
        float scale = 1f / MathF.Sqrt(hd);
        fixed (float* area = scratch)
        {
            float* k = area, v = k + width * hd, q = v + width * hd, o = q + s.Length * hd, scores = o + s.Length * hd;
            for (int pair = from; pair < to; pair++)
            {
                int row = pair / s.Heads, head = pair % s.Heads;
                long cacheRow = ((long)row * s.Heads + head) * s.Positions * hd;
                for (int i = 0; i < s.Length; i++)
                {
                    long slot = p.WriteIndex[(long)row * s.Length + i];
                    long token = (long)row * s.Length + i;
                    Copy(p.Qk + ((token * 2 * s.Heads) + s.Heads + head) * hd * es, p.Keys + (cacheRow + slot * hd) * es, hd * es);
                    Copy(p.V + (row * s.VRowStride + i * s.VPositionStride + head * s.VHeadStride) * es, p.Values + (cacheRow + slot * hd) * es, hd * es);
                }
                ToSingle(p.Keys + cacheRow * es, k, width * hd, es);
                ToSingle(p.Values + cacheRow * es, v, width * hd, es);
                for (int i = 0; i < s.Length; i++)
                    ToSingle(p.Qk + (((long)row * s.Length + i) * 2 * s.Heads + head) * hd * es, q + i * hd, hd, es);
                Scores(q, k, p.Mask + (long)row * s.Length * width, scores, s.Length, width, padded, hd, scale);
                for (int i = 0; i < s.Length; i++) Softmax(scores + i * padded, padded);
                Weighted(scores, v, o, s.Length, width, padded, hd);
                for (int i = 0; i < s.Length; i++)
                    FromSingle(o + i * hd, p.Output + ((((long)row * s.Length + i) * s.Heads) + head) * hd * es, hd, es);
            }
        }
    }

    /// <summary>scores[i, j] = scale · q_i·k_j where the mask allows, −∞ elsewhere and in the padding up to <paramref name="padded"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void Scores(float* q, float* k, bool* mask, float* scores, int length, int width, int padded, int hd, float scale)
    {
        for (int i = 0; i < length; i++)
            for (int j = width; j < padded; j++) scores[i * padded + j] = float.NegativeInfinity;
        for (int j = 0; j < width; j++)
        {
            float* key = k + j * hd;
            int i = 0;
            for (; i + 1 < length; i += 2) // two queries per key load: independent sums in flight
            {
                float* q0 = q + i * hd, q1 = q0 + hd;
                var kv = Vector512.Load(key);
                var a0 = Vector512.Load(q0) * kv;
                var a1 = Vector512.Load(q1) * kv;
                for (int d = Lanes; d < hd; d += Lanes)
                {
                    kv = Vector512.Load(key + d);
                    a0 = Vector512.FusedMultiplyAdd(Vector512.Load(q0 + d), kv, a0);
                    a1 = Vector512.FusedMultiplyAdd(Vector512.Load(q1 + d), kv, a1);
                }
                scores[i * padded + j] = mask[i * width + j] ? Vector512.Sum(a0) * scale : float.NegativeInfinity;
                scores[(i + 1) * padded + j] = mask[(i + 1) * width + j] ? Vector512.Sum(a1) * scale : float.NegativeInfinity;
            }
            if (i < length)
            {
                float* q0 = q + i * hd;
                var a0 = Vector512.Load(q0) * Vector512.Load(key);
                for (int d = Lanes; d < hd; d += Lanes) a0 = Vector512.FusedMultiplyAdd(Vector512.Load(q0 + d), Vector512.Load(key + d), a0);
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
            var e = Vector512.Exp(Vector512.Load(row + j) - shift);
            e.Store(row + j);
            total += e;
        }
        var inverse = Vector512.Create(1f / Vector512.Sum(total));
        for (int j = 0; j < padded; j += Lanes) (Vector512.Load(row + j) * inverse).Store(row + j);
    }

    /// <summary>o_i = Σ_j weights[i, j] · v_j, two queries at a time (independent sums in flight).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void Weighted(float* weights, float* v, float* o, int length, int width, int padded, int hd)
    {
        for (int d = 0; d < hd; d += Lanes)
        {
            int i = 0;
            for (; i + 1 < length; i += 2)
            {
                float* w0 = weights + i * padded, w1 = w0 + padded;
                var a0 = Vector512<float>.Zero;
                var a1 = Vector512<float>.Zero;
                for (int j = 0; j < width; j++)
                {
                    var value = Vector512.Load(v + j * hd + d);
                    a0 = Vector512.FusedMultiplyAdd(Vector512.Create(w0[j]), value, a0);
                    a1 = Vector512.FusedMultiplyAdd(Vector512.Create(w1[j]), value, a1);
                }
                a0.Store(o + i * hd + d);
                a1.Store(o + (i + 1) * hd + d);
            }
            if (i < length)
            {
                float* w0 = weights + i * padded;
                var a0 = Vector512<float>.Zero;
                for (int j = 0; j < width; j++) a0 = Vector512.FusedMultiplyAdd(Vector512.Create(w0[j]), Vector512.Load(v + j * hd + d), a0);
                a0.Store(o + i * hd + d);
            }
        }
    }

    private static unsafe void Copy(byte* from, byte* to, long bytes) => Buffer.MemoryCopy(from, to, bytes, bytes);

    /// <summary><paramref name="n"/> elements of <paramref name="elementSize"/> bytes (bfloat16 or float32) → float32; n a multiple of 16.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void ToSingle(byte* from, float* to, int n, int elementSize)
    {
        if (elementSize == 4)
        {
            Copy(from, (byte*)to, n * 4L);
            return;
        }
        var bits = (ushort*)from;
        for (int i = 0; i < n; i += Lanes)
            (Vector512.WidenLower(Vector256.Load(bits + i).ToVector512Unsafe()) << 16).AsSingle().Store(to + i);
    }

    /// <summary>float32 → bfloat16 rounded to nearest even (as a cast does), or a copy for float32; n a multiple of 16.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void FromSingle(float* from, byte* to, int n, int elementSize)
    {
        if (elementSize == 4)
        {
            Copy((byte*)from, to, n * 4L);
            return;
        }
        var bits = (ushort*)to;
        var half = Vector512.Create(0x7FFFu);
        for (int i = 0; i < n; i += Lanes)
        {
            var x = Vector512.Load(from + i).AsUInt32();
            var rounded = (x + half + ((x >> 16) & Vector512<uint>.One)) >> 16;
            Vector512.Narrow(rounded, Vector512<uint>.Zero).GetLower().Store(bits + i);
        }
    }
}
