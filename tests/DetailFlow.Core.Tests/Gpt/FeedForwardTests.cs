using DetailFlow.Core.Gpt;
using TorchSharp;
using static TorchSharp.torch;

namespace DetailFlow.Core.Tests.Gpt;

public class FeedForwardTests
{
    /// <summary>The one-pass gate (no autograd, CPU) against libtorch's <c>silu(a) * b</c>.</summary>
    [Theory]
    [InlineData(ScalarType.Float32, 64)]
    [InlineData(ScalarType.BFloat16, 64)]
    [InlineData(ScalarType.Float32, 2816)]
    [InlineData(ScalarType.BFloat16, 2816)]
    public void Gate_EqualsLibtorchsSiluTimes(ScalarType dtype, int width)
    {
        using var generator = new Generator((ulong)width);   // its own: other tests draw from the global one in parallel
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        foreach (long[] shape in new[] { new long[] { 2, 8, width }, [200, width] })   // a decode step's rows; enough to split over threads
        {
            var a = (randn(shape, generator: generator) * 4).to(dtype);
            var b = (randn(shape, generator: generator) * 2).to(dtype);
            a[0, 0] = tensor(-100f).to(dtype);   // exp(100) overflows: silu → −0, as in libtorch
            var expected = nn.functional.silu(a) * b;
            var actual = FeedForward.Gate(a, b);
            Assert.Equal(dtype, actual.dtype);
            Assert.Equal(shape, actual.shape);
            // exp differs from libtorch's (Sleef) in the last float bits: float32 within 1e-6 relative; bf16 one rounding
            // step at most, on a few elements.
            var gap = (actual.to(float32) - expected.to(float32)).abs();
            var allowed = maximum(expected.to(float32).abs(), actual.to(float32).abs()) * (dtype == ScalarType.Float32 ? 1e-6 : 1.0 / 128) + 1e-7;
            Assert.True(gap.le(allowed).all().item<bool>(), $"max |Δ| {gap.max().item<float>()}");
            if (dtype == ScalarType.BFloat16) Assert.True(actual.ne(expected).to(float32).mean().item<float>() < 0.01);
        }
    }

    [Fact]
    public void Gate_OfScalars_KeepsTheTorchOps()
    {
        using var noGrad = no_grad();
        var g = FeedForward.Gate(tensor(2f), tensor(3f));
        Assert.Equal(0, g.dim());
        Assert.Equal(3 * 2 / (1 + Math.Exp(-2)), g.item<float>(), 5);
    }

    [Fact]
    public void Gate_WithAutograd_KeepsTheTorchOps()
    {
        var a = randn(4, 32, requires_grad: true);
        var b = randn(4, 32, requires_grad: true);
        FeedForward.Gate(a, b).sum().backward();
        Assert.NotNull(a.grad);
        Assert.NotNull(b.grad);
    }
}
