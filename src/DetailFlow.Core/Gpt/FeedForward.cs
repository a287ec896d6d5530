using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using DetailFlow.Core.Runtime;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace DetailFlow.Core.Gpt;

/// <summary>
/// SwiGLU feed-forward (spec §6.2): <c>w2(silu(w1·x) ⊙ w3·x)</c>, width <see cref="GptConfig.FfnHidden"/>, no biases.
/// At inference on a CPU (no autograd; float32 or bf16) the gate runs as one pass in C# instead of libtorch's
/// <c>silu</c> and multiply: at a decode step's rows each of those wakes the OpenMP team for a few microseconds of
/// work (docs/performance.md, "The SwiGLU gate in one pass").
/// </summary>
public sealed class FeedForward : nn.Module<Tensor, Tensor>
{
    public readonly Linear w1;
    public readonly Linear w3;
    public readonly Linear w2;
    public readonly Dropout ffn_dropout;

    public FeedForward(GptConfig config) : base(nameof(FeedForward))
    {
        w1 = nn.Linear(config.Dim, config.FfnHidden, hasBias: false);
        w3 = nn.Linear(config.Dim, config.FfnHidden, hasBias: false);
        w2 = nn.Linear(config.FfnHidden, config.Dim, hasBias: false);
        ffn_dropout = nn.Dropout(config.FfnDropoutP);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = torch.NewDisposeScope();
        return ffn_dropout.forward(GemmRows.RowWise(x, h => PackedLinear.Forward(w2, Gate(PackedLinear.Forward(w1, h), PackedLinear.Forward(w3, h)))))
            .MoveToOuterDisposeScope();
    }

    /// <summary><c>silu(a) ⊙ b</c> as libtorch computes it: silu in float32, cast to the activations' dtype, then the product.</summary>
    public static Tensor Gate(Tensor a, Tensor b) => InOnePass(a, b) ? OnePass(a, b) : nn.functional.silu(a) * b;

    private static bool InOnePass(Tensor a, Tensor b) =>
        HostVectors.FitRows(a) && b.device_type == DeviceType.CPU && a.dtype == b.dtype && a.shape.SequenceEqual(b.shape);

    private static unsafe Tensor OnePass(Tensor a, Tensor b)
    {
        using var scope = torch.NewDisposeScope();
        a = a.contiguous();
        b = b.contiguous();
        var g = torch.empty_like(a);
        int width = (int)a.shape[^1], rows = (int)(a.numel() / width);
        var shape = new GateShape(width, a.dtype == ScalarType.BFloat16, (nint)TensorMemory.Address(a), (nint)TensorMemory.Address(b),
            (nint)TensorMemory.Address(g));
        TorchThreads.Split(rows, small: a.numel() < HostVectors.ParallelElements, (from, to) => GateRows(shape, from, to));
        return g.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// x / (1 + e^−x), from e = e^−|x| ≤ 1 (<see cref="HostVectors.ExpNonPositive"/>; .NET's <c>Vector512.Exp</c> computes
    /// in float64: 2 % of the samples of a step at one request): x / (1 + e) for x ≥ 0, x·e / (1 + e) below.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Silu(Vector512<float> x)
    {
        var e = HostVectors.ExpNonPositive(-Vector512.Abs(x));
        return Vector512.ConditionalSelect(Vector512.GreaterThanOrEqual(x, Vector512<float>.Zero), x, x * e) / (Vector512<float>.One + e);
    }

    private readonly record struct GateShape(int Width, bool BFloat16, nint A, nint B, nint G);

    /// <summary>Rows [from, to): g = cast(a / (1 + exp(−a))) · b, rounded to the activations' dtype.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void GateRows(GateShape s, int from, int to)
    {
        long start = (long)from * s.Width, end = (long)to * s.Width;
        if (s.BFloat16)
        {
            ushort* a = (ushort*)s.A, b = (ushort*)s.B, g = (ushort*)s.G;
            for (long i = start; i < end; i += HostVectors.Lanes)
            {
                var x = HostVectors.Load(a + i);
                HostVectors.Store(HostVectors.RoundToBFloat16(Silu(x)) * HostVectors.Load(b + i), g + i);
            }
        }
        else
        {
            float* a = (float*)s.A, b = (float*)s.B, g = (float*)s.G;
            for (long i = start; i < end; i += HostVectors.Lanes)
            {
                var x = Vector512.Load(a + i);
                (Silu(x) * Vector512.Load(b + i)).Store(g + i);
            }
        }
    }
}
