using System.Runtime;
using DetailFlow.Core.Runtime;
using DetailFlow.Core.Tests.Imaging;

namespace DetailFlow.Core.Tests.Runtime;

[Collection(nameof(ProcessMemoryCollection))]   // the region is process-wide: run alone
public class ScalarGcGuardTests
{
    [Fact]
    public void OverlappingGuardsHoldOneRegionUntilTheLastLeaves()
    {
        Assert.NotEqual(GCLatencyMode.NoGCRegion, GCSettings.LatencyMode);
        var outer = ScalarGcGuard.Enter();
        Assert.Equal(GCLatencyMode.NoGCRegion, GCSettings.LatencyMode);
        var inner = ScalarGcGuard.Enter();
        outer.Dispose();
        Assert.Equal(GCLatencyMode.NoGCRegion, GCSettings.LatencyMode);   // still held by inner
        inner.Dispose();
        inner.Dispose();                                                  // idempotent
        Assert.NotEqual(GCLatencyMode.NoGCRegion, GCSettings.LatencyMode);
    }

    [Fact]
    public void AGuardWhoseBudgetWasExceededEndsQuietly()
    {
        using (ScalarGcGuard.Enter())
        {
            var garbage = new List<byte[]>();
            for (int i = 0; i < 64; i++) garbage.Add(new byte[1 << 20]);   // 64 MiB > the 32 MiB budget
            GC.KeepAlive(garbage);
        }
        Assert.NotEqual(GCLatencyMode.NoGCRegion, GCSettings.LatencyMode);
    }
}
