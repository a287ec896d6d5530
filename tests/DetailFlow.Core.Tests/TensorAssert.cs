using static TorchSharp.torch;

namespace DetailFlow.Core.Tests;

internal static class TensorAssert
{
    /// <summary>Same shape and bit-identical values.</summary>
    public static void Identical(Tensor expected, Tensor actual)
    {
        Assert.Equal(expected.shape, actual.shape);
        long differing = expected.ne(actual).sum().item<long>();
        Assert.True(differing == 0, $"{differing} of {expected.numel()} elements differ");
    }
}
