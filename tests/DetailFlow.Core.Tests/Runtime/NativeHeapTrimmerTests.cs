using System.Runtime.InteropServices;
using DetailFlow.Core.Runtime;

namespace DetailFlow.Core.Tests.Runtime;

/// <summary>
/// The trimmer's bookkeeping: growth past the budget is seen at the next check, and with a check interval it is not
/// looked at (no read of the resident size) between checks.
/// </summary>
public class NativeHeapTrimmerTests
{
    private const long Budget = 1L << 20;

    [Fact]
    public void EveryStep_SeesGrowthPastTheBudget()
    {
        var trimmer = new NativeHeapTrimmer(Budget);
        Assert.False(trimmer.AfterStep());   // the baseline
        using var held = new TouchedMemory(32L << 20);
        Assert.True(trimmer.AfterStep());
        Assert.Equal(1, trimmer.Trims);
    }

    [Fact]
    public void WithAnInterval_GrowthIsNotLookedAtBeforeTheNextCheck()
    {
        var trimmer = new NativeHeapTrimmer(Budget, checkEvery: TimeSpan.FromHours(1));
        Assert.False(trimmer.AfterStep());   // the baseline
        using var held = new TouchedMemory(32L << 20);
        for (int i = 0; i < 10; i++) Assert.False(trimmer.AfterStep());
        Assert.Equal(0, trimmer.Trims);
    }

    [Fact]
    public void NegativeInterval_Refused() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => new NativeHeapTrimmer(Budget, TimeSpan.FromSeconds(-1)));

    /// <summary>Native memory written page by page, so it is resident until freed.</summary>
    private sealed class TouchedMemory : IDisposable
    {
        private readonly IntPtr _block;

        public TouchedMemory(long bytes)
        {
            _block = Marshal.AllocHGlobal((nint)bytes);
            for (long offset = 0; offset < bytes; offset += Environment.SystemPageSize) Marshal.WriteByte(_block, (int)offset, 1);
        }

        public void Dispose() => Marshal.FreeHGlobal(_block);
    }
}
