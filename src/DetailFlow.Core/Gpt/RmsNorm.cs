using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using DetailFlow.Core.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace DetailFlow.Core.Gpt;

/// <summary>
/// RMSNorm of the official <c>gpt.py</c> (spec §6.2, §12 item 9): normalise in float32, cast back to the activation
/// dtype, then multiply by the learned weight. No bias. At inference on a CPU (no autograd) the same arithmetic runs as
/// one pass per row in C# instead of eight libtorch ops: at a decode step's few rows their per-call costs were most of
/// the norm's time (docs/performance.md, "A step's small ops in one pass").
/// </summary>
public sealed class RmsNorm : nn.Module<Tensor, Tensor>
{
    public readonly TorchSharp.Modules.Parameter weight;
    private readonly double _eps;

    public RmsNorm(int dim, double eps) : base(nameof(RmsNorm))
    {
        if (dim <= 0) throw new ArgumentOutOfRangeException(nameof(dim), dim, "RMSNorm width must be positive");
        _eps = eps;
        weight = nn.Parameter(torch.ones(dim));
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        if (InOnePass(x)) return OnePass(x);
        using var scope = torch.NewDisposeScope();
        var x32 = x.to(float32);
        var normed = x32 * torch.rsqrt((x32 * x32).mean([-1], keepdim: true) + _eps);
        return (normed.to(x.dtype) * weight).MoveToOuterDisposeScope();
    }

    private bool InOnePass(Tensor x) => x.dtype == weight.dtype && HostVectors.FitRows(x);

    private unsafe Tensor OnePass(Tensor x)
    {
        using var scope = torch.NewDisposeScope();
        x = x.contiguous();
        var y = torch.empty_like(x);
        int dim = (int)x.shape[^1], rows = (int)(x.numel() / dim);
        var shape = new RowShape(dim, x.dtype == ScalarType.BFloat16, (float)_eps, (nint)TensorMemory.Address(x), (nint)TensorMemory.Address(y),
            (nint)TensorMemory.Address(weight));
        TorchThreads.Split(rows, small: x.numel() < HostVectors.ParallelElements, (from, to) => Normalize(shape, from, to));
        return y.MoveToOuterDisposeScope();
    }

    private readonly record struct RowShape(int Dim, bool BFloat16, float Eps, nint X, nint Y, nint Weight);

    /// <summary>Rows [from, to): y = cast(x · rsqrt(mean(x²) + eps)) · weight, as the torch ops above compute it.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void Normalize(RowShape s, int from, int to)
    {
        int dim = s.Dim, lanes = HostVectors.Lanes;
        for (int r = from; r < to; r++)
        {
            long at = (long)r * dim;
            var squares = Vector512<float>.Zero;
            if (s.BFloat16)
            {
                ushort* x = (ushort*)s.X + at, y = (ushort*)s.Y + at, w = (ushort*)s.Weight;
                for (int d = 0; d < dim; d += lanes)
                {
                    var v = HostVectors.Load(x + d);
                    squares = Vector512.FusedMultiplyAdd(v, v, squares);
                }
                var scale = Vector512.Create(1f / MathF.Sqrt(Vector512.Sum(squares) / dim + s.Eps));
                for (int d = 0; d < dim; d += lanes)
                    HostVectors.Store(HostVectors.RoundToBFloat16(HostVectors.Load(x + d) * scale) * HostVectors.Load(w + d), y + d);
            }
            else
            {
                float* x = (float*)s.X + at, y = (float*)s.Y + at, w = (float*)s.Weight;
                for (int d = 0; d < dim; d += lanes)
                {
                    var v = Vector512.Load(x + d);
                    squares = Vector512.FusedMultiplyAdd(v, v, squares);
                }
                var scale = Vector512.Create(1f / MathF.Sqrt(Vector512.Sum(squares) / dim + s.Eps));
                for (int d = 0; d < dim; d += lanes) (Vector512.Load(x + d) * scale * Vector512.Load(w + d)).Store(y + d);
            }
        }
    }
}
