using DetailFlow.Core.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace DetailFlow.Core.Tests.Runtime;

public class BatchedProductTests
{
    [Fact]
    public void TheScriptModule_LoadsOnThisLibtorch() => Assert.True(BatchedProduct.Available);

    /// <summary>Into a strided view (heads of a merged [L, H·d] output), overwriting what was there (β = 0, NaN included).</summary>
    [Theory]
    [InlineData(ScalarType.Float32)]
    [InlineData(ScalarType.BFloat16)]
    public void Into_WritesAlphaTimesTheBatchedProduct_IntoAStridedView(ScalarType dtype)
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        using var generator = new Generator(7);
        long heads = 3, l = 5, d = 4;
        var a = randn([heads, l, l], generator: generator).to(dtype);
        var b = randn([l, heads * d], generator: generator).to(dtype).view(l, heads, d).transpose(0, 1);   // [H, L, d], strided
        var merged = full([l, heads * d], float.NaN, dtype);
        var view = merged.view(l, heads, d).transpose(0, 1);

        BatchedProduct.Into(view, a, b, 0.5);

        var expected = (0.5 * bmm(a.to(float32), b.to(float32))).transpose(0, 1).reshape(l, heads * d);
        double tolerance = dtype == ScalarType.Float32 ? 1e-5 : 0.05;
        Assert.False(merged.isnan().any().item<bool>());
        Assert.True((merged.to(float32) - expected).abs().max().item<float>() <= tolerance * expected.abs().max().item<float>());
    }
}
