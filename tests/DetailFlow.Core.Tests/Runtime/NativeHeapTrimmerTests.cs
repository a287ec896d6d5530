using System.Runtime.InteropServices;
using DetailFlow.Core.Runtime;

namespace DetailFlow.Core.Tests.Runtime;

/// <summary>
/// The trimmer's bookkeeping: growth past the budget is seen at the next check, and with a check interval it is not
/// looked at (no read of the resident size) between checks. The resident size is the whole process's, so these run
/// alone (a test beside them that frees memory would hide the growth).
/// </summary>
[Collection(nameof(Imaging.ProcessMemoryCollection))]
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

    /// <summary>
    /// The baseline is the high-water of its settle checks: memory that comes during them (the working set faulting back
    /// in after a trim, a larger batch) is not growth; memory beyond that high-water is.
    /// </summary>
    [Fact]
    public void SettleChecks_TheBaselineIsTheirHighWater()
    {
        var trimmer = new NativeHeapTrimmer(Budget, settleChecks: 3);
        Assert.False(trimmer.AfterStep());
        using var workingSet = new TouchedMemory(32L << 20);
        Assert.False(trimmer.AfterStep());
        Assert.False(trimmer.AfterStep());   // the third settle check: baseline = the high-water, working set included
        Assert.False(trimmer.AfterStep());   // no growth past it
        Assert.Equal(0, trimmer.Trims);
        using var growth = new TouchedMemory(32L << 20);
        Assert.True(trimmer.AfterStep());
        Assert.Equal(1, trimmer.Trims);
    }

    [Fact]
    public void NegativeInterval_Refused() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => new NativeHeapTrimmer(Budget, TimeSpan.FromSeconds(-1)));

    [Fact]
    public void NoSettleCheck_Refused() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => new NativeHeapTrimmer(Budget, settleChecks: 0));

    /// <summary>
    /// Fresh pages (an anonymous mapping, not the C heap, whose free memory may already be resident), written page by
    /// page so they are resident until unmapped.
    /// </summary>
    private sealed class TouchedMemory : IDisposable
    {
        private const int ProtReadWrite = 0x1 | 0x2, MapPrivateAnonymous = 0x02 | 0x20;
        private readonly IntPtr _block;
        private readonly nuint _bytes;

        public TouchedMemory(long bytes)
        {
            _bytes = (nuint)bytes;
            _block = Mmap(IntPtr.Zero, _bytes, ProtReadWrite, MapPrivateAnonymous, -1, 0);
            if (_block == new IntPtr(-1)) throw new InvalidOperationException($"mmap failed with errno {Marshal.GetLastPInvokeError()}");
            for (long offset = 0; offset < bytes; offset += Environment.SystemPageSize) Marshal.WriteByte(_block, (int)offset, 1);
        }

        public void Dispose() => Munmap(_block, _bytes);

        [DllImport("libc", EntryPoint = "mmap", SetLastError = true)]
        private static extern IntPtr Mmap(IntPtr address, nuint length, int protection, int flags, int fd, nint offset);

        [DllImport("libc", EntryPoint = "munmap")]
        private static extern int Munmap(IntPtr address, nuint length);
    }
}
