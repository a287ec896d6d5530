using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using TorchSharp;
using static TorchSharp.torch;

namespace DetailFlow.Core.Runtime;

/// <summary>
/// Conversions between the activations' storage (float32, or bfloat16 as the upper half of a float32) and float32,
/// and the softmaxes' e^x, 16 lanes at a time, for the kernels written in C# (<see cref="TensorMemory"/>). Lengths are
/// multiples of 16.
/// </summary>
public static class HostVectors
{
    public const int Lanes = 16; // Vector512<float>.Count

    /// <summary>Elements above which a pass over rows is split over the calling thread's torch threads (<see cref="TorchThreads.Split"/>).</summary>
    public const long ParallelElements = 1 << 18;

    /// <summary>
    /// Whether a pass in C# over the rows of <paramref name="x"/> applies: inference (no autograd) on a CPU, float32 or
    /// bfloat16, a non-empty tensor whose rows are whole vectors.
    /// </summary>
    public static bool FitRows(Tensor x) =>
        !torch.is_grad_enabled() && x.device_type == DeviceType.CPU && x.dtype is ScalarType.Float32 or ScalarType.BFloat16
        && x.dim() > 0 && x.shape[^1] % Lanes == 0 && x.numel() > 0;

    /// <summary><paramref name="n"/> elements of <paramref name="elementSize"/> bytes (bfloat16: 2, float32: 4) → float32.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static unsafe void ToSingle(byte* from, float* to, int n, int elementSize)
    {
        if (elementSize == 4)
        {
            Buffer.MemoryCopy(from, to, n * 4L, n * 4L);
            return;
        }
        var bits = (ushort*)from;
        for (int i = 0; i < n; i += Lanes) Load(bits + i).Store(to + i);
    }

    /// <summary>float32 → <paramref name="elementSize"/> bytes: bfloat16 rounded to nearest even (as a cast does), or a copy.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static unsafe void FromSingle(float* from, byte* to, int n, int elementSize)
    {
        if (elementSize == 4)
        {
            Buffer.MemoryCopy(from, to, n * 4L, n * 4L);
            return;
        }
        var bits = (ushort*)to;
        for (int i = 0; i < n; i += Lanes) Store(Vector512.Load(from + i), bits + i);
    }

    /// <summary>16 bfloat16 values at <paramref name="bits"/> as float32.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe Vector512<float> Load(ushort* bits) =>
        (Vector512.WidenLower(Vector256.Load(bits).ToVector512Unsafe()) << 16).AsSingle();

    /// <summary>16 float32 values rounded to bfloat16 (nearest even) and stored at <paramref name="bits"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe void Store(Vector512<float> values, ushort* bits) =>
        Vector512.Narrow(RoundedBits(values) >> 16, Vector512<uint>.Zero).GetLower().Store(bits);

    /// <summary>One float32 value rounded to bfloat16 (nearest even), as its bits.</summary>
    public static ushort ToBFloat16(float value)
    {
        uint x = BitConverter.SingleToUInt32Bits(value);
        return (ushort)((x + 0x7FFFu + ((x >> 16) & 1u)) >> 16);
    }

    /// <summary>16 float32 values rounded to the nearest bfloat16, still as float32 (what a cast to bf16 and back gives).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> RoundToBFloat16(Vector512<float> values) => (RoundedBits(values) & Vector512.Create(0xFFFF0000u)).AsSingle();

    /// <summary>In place, <paramref name="n"/> float32 values rounded to the nearest bfloat16.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static unsafe void RoundToBFloat16(float* values, int n)
    {
        for (int i = 0; i < n; i += Lanes) RoundToBFloat16(Vector512.Load(values + i)).Store(values + i);
    }

    private static Vector512<uint> RoundedBits(Vector512<float> values)
    {
        var x = values.AsUInt32();
        return x + Vector512.Create(0x7FFFu) + ((x >> 16) & Vector512<uint>.One);
    }

    /// <summary>
    /// e^x for x ≤ 0 (a row minus its maximum, or −|x|), within 2 ulp of float32: 2^n · p(r) with x = n·ln 2 + r,
    /// |r| ≤ ln 2 / 2, p of degree 6; below −87 (where e^x leaves float32's normal range) 0. .NET's
    /// <c>Vector512.Exp</c> (computed in float64) took twice the time.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> ExpNonPositive(Vector512<float> x)
    {
        var tiny = Vector512.LessThan(x, Vector512.Create(-87f));
        x = Vector512.Max(x, Vector512.Create(-87f));
        var n = Vector512.Round(x * Vector512.Create(1.44269504f));
        var r = Vector512.FusedMultiplyAdd(n, Vector512.Create(-0.693145752f), x);   // ln 2 in two parts (Cody–Waite)
        r = Vector512.FusedMultiplyAdd(n, Vector512.Create(-1.42860677e-6f), r);
        var p = Vector512.Create(1.0f / 720);
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(1.0f / 120));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(1.0f / 24));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(1.0f / 6));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(0.5f));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512<float>.One);
        p = Vector512.FusedMultiplyAdd(p, r, Vector512<float>.One);
        var scaled = (p.AsInt32() + (Vector512.ConvertToInt32(n) << 23)).AsSingle();
        return Vector512.AndNot(scaled, tiny.AsSingle());
    }
}
