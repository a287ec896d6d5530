using System.Runtime.Intrinsics;
using DetailFlow.Core.Runtime;

namespace DetailFlow.Core.Tests.Runtime;

public class HostVectorsTests
{
    [Fact]
    public void ExpNonPositive_IsWithinTwoUlpOfFloat32_AndZeroBelowItsRange()
    {
        var inputs = Enumerable.Range(0, 16 * 4096).Select(i => -87f * i / (16 * 4096 - 1)).ToArray();
        for (int i = 0; i < inputs.Length; i += 16)
        {
            var e = HostVectors.ExpNonPositive(Vector512.Create(inputs, i));
            for (int j = 0; j < 16; j++)
            {
                double exact = Math.Exp(inputs[i + j]);
                Assert.True(Math.Abs(e[j] - exact) <= 2.5e-7 * exact, $"e^{inputs[i + j]}: {e[j]} vs {exact}");
            }
        }
        var below = HostVectors.ExpNonPositive(Vector512.Create(-88f, -100f, float.NegativeInfinity, -1e30f, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0));
        for (int j = 0; j < 4; j++) Assert.Equal(0f, below[j]);
        Assert.Equal(1f, below[4]);
    }
}
