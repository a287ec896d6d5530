using DetailFlow.Core.Gpt;
using TorchSharp;
using static TorchSharp.torch;

namespace DetailFlow.Core.Tests.Gpt;

public class RmsNormTests
{
    /// <summary>The one-pass inference path (no autograd, CPU) against the official op sequence written out in torch.</summary>
    [Theory]
    [InlineData(ScalarType.Float32, 64)]
    [InlineData(ScalarType.BFloat16, 64)]
    [InlineData(ScalarType.Float32, 1024)]
    [InlineData(ScalarType.BFloat16, 1024)]
    public void Inference_EqualsTheOfficialOps(ScalarType dtype, int dim)
    {
        using var generator = new Generator((ulong)dim);   // its own: other tests draw from the global one in parallel
        using var norm = new RmsNorm(dim, 1e-5);
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        norm.weight.copy_(rand(dim, generator: generator) + 0.5);
        norm.to(dtype);
        foreach (long[] shape in new[] { new long[] { 2, 8, dim }, [300, dim] })   // a decode step's rows; enough to split over threads
        {
            var x = (randn(shape, generator: generator) * 3).to(dtype);
            var x32 = x.to(float32);
            var expected = (x32 * rsqrt((x32 * x32).mean([-1], keepdim: true) + 1e-5)).to(dtype) * norm.weight;
            var actual = norm.forward(x);
            Assert.Equal(dtype, actual.dtype);
            Assert.Equal(shape, actual.shape);
            // float32: summation order only; bfloat16: a different mean's last bit may move a result by one bf16 step,
            // the step of the larger of the two (just below a power of two the step above is twice the one below).
            var gap = (actual.to(float32) - expected.to(float32)).abs();
            var allowed = maximum(expected.to(float32).abs(), actual.to(float32).abs()) * (dtype == ScalarType.Float32 ? 1e-5 : 1.0 / 128) + 1e-6;
            Assert.True(gap.le(allowed).all().item<bool>(), $"max |Δ| {gap.max().item<float>()}");
            if (dtype == ScalarType.BFloat16) Assert.True(actual.ne(expected).to(float32).mean().item<float>() < 0.01);
        }
    }

    [Fact]
    public void Training_KeepsTheAutogradPath()
    {
        using var norm = new RmsNorm(32, 1e-5);
        var x = randn(4, 32, requires_grad: true);
        var y = norm.forward(x);
        y.sum().backward();
        Assert.NotNull(x.grad);
        Assert.NotNull(norm.weight.grad);
    }
}
