using System.Runtime;
using DetailFlow.Core.Runtime;
using DetailFlow.Core.Tests.Imaging;

namespace DetailFlow.Core.Tests.Runtime;

[Collection(nameof(ProcessMemoryCollection))]   // the region is process-wide: run alone
public class ScalarGcGuardTests
{
    [Fact]
    public void OverlappingGuardsShareOneRegion_WhichStaysOpenForTheNextStep()
    {
        var outer = ScalarGcGuard.Enter();
        Assert.True(ScalarGcGuard.RegionOpen);
        Assert.Equal(GCLatencyMode.NoGCRegion, GCSettings.LatencyMode);
        var inner = ScalarGcGuard.Enter();
        outer.Dispose();
        Assert.True(ScalarGcGuard.RegionOpen);   // still held by inner
        inner.Dispose();
        inner.Dispose();                         // idempotent
        Assert.True(ScalarGcGuard.RegionOpen);   // no step in flight, and still open: the next one does not start another
    }

    [Fact]
    public void StepsOneAfterAnother_DoNotCollectAtEveryStart()
    {
        // Opening a region when none is open counts as a full blocking collection; a guard that ended the region after
        // every step ran one per step (200 here) whenever steps did not overlap.
        long gateCollections = ScalarGcGuard.Collections;
        int collections = GC.CollectionCount(0);
        for (int step = 0; step < 200; step++)
            using (ScalarGcGuard.Enter()) Allocate(10_000);
        long gate = ScalarGcGuard.Collections - gateCollections;
        int all = GC.CollectionCount(0) - collections;
        Assert.True(all <= gate + 2, $"{all} collections for 200 steps of 10 KB, {gate} of them the gate's");
    }

    [Fact]
    public void AGuardWhoseBudgetWasExceededEndsQuietly_AndTheNextStepOpensANewRegion()
    {
        using (ScalarGcGuard.Enter())
        {
            var garbage = new List<byte[]>();
            for (int i = 0; i < 64; i++) garbage.Add(new byte[1 << 20]);   // 64 MiB > the 32 MiB budget
            GC.KeepAlive(garbage);
            Assert.False(ScalarGcGuard.RegionOpen);
        }
        Assert.False(ScalarGcGuard.RegionOpen);
        using (ScalarGcGuard.Enter()) Assert.True(ScalarGcGuard.RegionOpen);
    }

    [Fact]
    public void GarbageOfGuardedStepsIsCollected()
    {
        // A training step allocates short-lived managed objects inside its region. With regions, starting the next region
        // chains fresh regions onto the heap instead of collecting, so every step's garbage stayed (measured: 202 MiB
        // here before the guard collected, 8 MiB since). 200 steps of 1 MiB must not keep 200 MiB.
        GC.Collect();
        long start = GC.GetTotalMemory(false), peak = start;
        for (int step = 0; step < 200; step++)
        {
            using (ScalarGcGuard.Enter())
            {
                var garbage = new object[1024];
                for (int i = 0; i < garbage.Length; i++) garbage[i] = new byte[1000];   // small objects: the SOH, like a step's
                GC.KeepAlive(garbage);
            }
            peak = Math.Max(peak, GC.GetTotalMemory(false));
        }
        Assert.True(peak - start < 64L << 20, $"managed heap grew by {(peak - start) >> 20} MiB over 200 steps of 1 MiB garbage");
    }

    [Fact]
    public void OverlappingStepsOfTwoThreadsStillCollect()
    {
        // Serving's inference and decode threads hold the region in turns that overlap, so it is rarely released between
        // steps; the garbage of 2 × 200 steps of 1 MiB must still be collected (the old guard kept all of it).
        GC.Collect();
        long start = GC.GetTotalMemory(false), collections = ScalarGcGuard.Collections, peak = start;
        void Steps()
        {
            for (int step = 0; step < 200; step++)
                using (ScalarGcGuard.Enter()) Allocate(1 << 20);
        }
        Thread[] threads = [new(Steps), new(Steps)];
        foreach (var thread in threads) thread.Start();
        foreach (var thread in threads) Assert.True(thread.Join(TimeSpan.FromMinutes(2)), "the two threads deadlocked at the gate");
        peak = Math.Max(peak, GC.GetTotalMemory(false));
        Assert.True(ScalarGcGuard.Collections > collections, "no collection ran between the overlapping steps");
        Assert.True(peak - start < 64L << 20, $"managed heap grew by {(peak - start) >> 20} MiB over 400 overlapping steps of 1 MiB garbage");
    }

    [Fact]
    public void ADueCollectionWaitsForTheRunningStepAndHoldsBackNewOnes()
    {
        GC.Collect();
        var running = ScalarGcGuard.Enter();
        Allocate((int)ScalarGcGuard.CollectAfterBytes + (1 << 20));   // a collection is now due
        long collections = ScalarGcGuard.Collections;
        bool entered = false;
        var next = new Thread(() =>
        {
            using (ScalarGcGuard.Enter()) Volatile.Write(ref entered, true);
        });
        next.Start();
        Assert.True(SpinWait.SpinUntil(() => next.ThreadState.HasFlag(ThreadState.WaitSleepJoin), TimeSpan.FromSeconds(30)),
            "the next step never waited");
        Assert.False(Volatile.Read(ref entered), "a step entered while a due collection waited for the running one");
        Assert.Equal(collections, ScalarGcGuard.Collections);   // never during a step
        using (ScalarGcGuard.Enter()) { }                        // the running thread may nest without waiting for itself
        running.Dispose();                                       // the last step out collects; the waiting one goes on
        Assert.True(next.Join(TimeSpan.FromSeconds(30)), "the waiting step was never let in");
        Assert.True(Volatile.Read(ref entered));
        Assert.Equal(collections + 1, ScalarGcGuard.Collections);
    }

    private static void Allocate(int bytes)
    {
        var garbage = new object[bytes / 1000];
        for (int i = 0; i < garbage.Length; i++) garbage[i] = new byte[1000];   // small objects: the SOH, like a step's
        GC.KeepAlive(garbage);
    }
}
