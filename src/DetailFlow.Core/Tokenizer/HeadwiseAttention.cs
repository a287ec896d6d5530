using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using DetailFlow.Core.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace DetailFlow.Core.Tokenizer;

/// <summary>
/// Full (unmasked) multi-head attention on a CPU into one kept score buffer: an image's scores q·kᵀ/√d for all its heads
/// are written by one in-place batched product into an [H, L, L] view of the buffer (<see cref="BatchedProduct"/>), a
/// softmax runs over its rows in C# (float32 inside, as libtorch's), and the probabilities · v are written by a second
/// one straight into the heads' columns of the merged [B, L, D] output. libtorch's fused attention runs its bf16
/// products through a slower GEMM than oneDNN's on some CPUs, and separate products with fresh score tensors fault
/// their pages in at every layer; the buffer is reused by every layer and every forward that rents it
/// (<see cref="SiglipLayerStack"/>). Not thread-safe: one forward at a time per instance.
/// </summary>
public sealed class HeadwiseAttention : IDisposable
{
    private Tensor? _buffer; // flat, grown to the largest H·L² asked for

    /// <summary>Whether this path can run over <paramref name="hiddenStates"/> [B, L, D] with <paramref name="heads"/> heads.</summary>
    public static bool Fits(Tensor hiddenStates, int heads) =>
        !torch.is_grad_enabled() && hiddenStates.device_type == DeviceType.CPU && hiddenStates.dim() == 3
        && hiddenStates.dtype is ScalarType.Float32 or ScalarType.BFloat16 && heads > 0 && hiddenStates.shape[2] % heads == 0
        && BatchedProduct.Available;

    /// <summary>softmax(q·kᵀ/√d)·v for each of <paramref name="heads"/> heads of <paramref name="q"/>, <paramref name="k"/>, <paramref name="v"/> [B, L, D] → [B, L, D].</summary>
    public Tensor Attend(Tensor q, Tensor k, Tensor v, int heads)
    {
        if (!Fits(q, heads)) throw new ArgumentException($"head-by-head attention needs [B, L, D] float32/bfloat16 on a CPU without autograd, D divisible by {heads}", nameof(q));
        long b = q.shape[0], l = q.shape[1], width = q.shape[2], headDim = width / heads;
        using var scores = Scores(heads, l, q.dtype);
        float scale = (float)(1 / Math.Sqrt(headDim));
        var output = torch.empty([b, l, width], q.dtype);
        for (long i = 0; i < b; i++)
        {
            using var scope = torch.NewDisposeScope();
            Tensor Heads(Tensor x) => x[i].view(l, heads, headDim).transpose(0, 1);   // [H, L, d]: this image's heads
            BatchedProduct.Into(scores, Heads(q), Heads(k).transpose(1, 2), scale);
            SoftmaxRows(scores);
            BatchedProduct.Into(Heads(output), scores, Heads(v), 1);
        }
        return output;
    }

    /// <summary>An [H, L, L] view of the kept buffer, which grows (and changes dtype) when it must.</summary>
    private Tensor Scores(int heads, long l, ScalarType dtype)
    {
        long size = heads * l * l;
        if (_buffer is null || _buffer.dtype != dtype || _buffer.numel() < size)
        {
            _buffer?.Dispose();
            _buffer = torch.empty(size, dtype);
            _buffer.DetachFromDisposeScope();
        }
        return _buffer.narrow(0, 0, size).view(heads, l, l);
    }

    public void Dispose()
    {
        _buffer?.Dispose();
        _buffer = null;
    }

    /// <summary>In place, softmax over the last dimension of a contiguous float32 / bfloat16 CPU tensor.</summary>
    public static unsafe void SoftmaxRows(Tensor x)
    {
        if (x.device_type != DeviceType.CPU || x.dtype is not (ScalarType.Float32 or ScalarType.BFloat16) || !x.is_contiguous() || x.dim() == 0)
            throw new ArgumentException("softmax rows need a contiguous float32/bfloat16 CPU tensor", nameof(x));
        int width = (int)x.shape[^1];
        if (width == 0 || x.numel() == 0) return;
        int rows = (int)(x.numel() / width);
        var at = new SoftmaxRowsAt(width, x.dtype == ScalarType.BFloat16, (nint)TensorMemory.Address(x));
        TorchThreads.Split(rows, small: x.numel() < HostVectors.ParallelElements, (from, to) => Softmax(at, from, to));
    }

    private readonly record struct SoftmaxRowsAt(int Width, bool BFloat16, nint Data);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void Softmax(SoftmaxRowsAt s, int from, int to)
    {
        int w = s.Width, full = w - w % HostVectors.Lanes;
        var buffer = s.BFloat16 ? new float[w] : [];
        fixed (float* converted = buffer)
        {
            for (long r = from; r < to; r++)
            {
                ushort* bits = (ushort*)s.Data + r * w;
                float* x = s.BFloat16 ? converted : (float*)s.Data + r * w;
                if (s.BFloat16)
                {
                    HostVectors.ToSingle((byte*)bits, x, full, 2);
                    for (int i = full; i < w; i++) x[i] = BitConverter.Int32BitsToSingle(bits[i] << 16);
                }

                var top = Vector512.Create(float.NegativeInfinity);
                for (int i = 0; i < full; i += HostVectors.Lanes) top = Vector512.Max(top, Vector512.Load(x + i));
                float max = float.NegativeInfinity;
                for (int i = 0; i < HostVectors.Lanes; i++) max = MathF.Max(max, top[i]);
                for (int i = full; i < w; i++) max = MathF.Max(max, x[i]);

                var shift = Vector512.Create(max);
                var sums = Vector512<float>.Zero;
                for (int i = 0; i < full; i += HostVectors.Lanes)
                {
                    var e = HostVectors.ExpNonPositive(Vector512.Load(x + i) - shift);
                    e.Store(x + i);
                    sums += e;
                }
                float sum = Vector512.Sum(sums);
                for (int i = full; i < w; i++) sum += x[i] = MathF.Exp(x[i] - max);

                float inverse = 1 / sum;
                var scale = Vector512.Create(inverse);
                if (s.BFloat16)
                {
                    for (int i = 0; i < full; i += HostVectors.Lanes) HostVectors.Store(Vector512.Load(x + i) * scale, bits + i);
                    for (int i = full; i < w; i++) bits[i] = HostVectors.ToBFloat16(x[i] * inverse);
                }
                else
                {
                    for (int i = 0; i < full; i += HostVectors.Lanes) (Vector512.Load(x + i) * scale).Store(x + i);
                    for (int i = full; i < w; i++) x[i] *= inverse;
                }
            }
        }
    }
}
