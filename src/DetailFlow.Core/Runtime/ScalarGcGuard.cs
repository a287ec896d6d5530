using System.Diagnostics;
using System.Runtime;

namespace DetailFlow.Core.Runtime;

/// <summary>
/// Keeps garbage collections out of model steps (a training step, an engine step, a decode) and runs them between
/// steps instead. Why: TorchSharp 0.107 hands implicit <c>Scalar</c> temporaries (the alpha of every <c>a + b</c>, the
/// exponent of <c>pow(2)</c>, …) to native code by handle without keeping the wrapper alive, so a collection during such a
/// call can finalize the Scalar while libtorch still reads it (seen as <c>Unknown scalar type</c> under load). The
/// wrappers live inside TorchSharp, so the fix cannot be made at each call site: a step runs inside a no-GC region.
/// <para>
/// Steps share one region, and it stays open between steps: starting a region when none is open counts as a full
/// blocking collection, and short steps one after the other would start one each (the default model: ~68 a second,
/// docs/memory.md). With the region always open the runtime never collects on its own, so managed garbage — and the
/// native memory its finalizers free — would pile up for as long as traffic lasts. So the guard is also a gate: once
/// <see cref="CollectAfterBytes"/> have been allocated since the last collection, new steps wait until the running ones
/// end, the region ends, one collection runs with no step in flight, and the next step opens a new region. Finalizers
/// then run beside later steps, which is safe: what they free was garbage before those steps began. See
/// <c>docs/memory.md</c>.
/// </para>
/// </summary>
public sealed class ScalarGcGuard : IDisposable
{
    /// <summary>Managed bytes the process may allocate during one step without a collection.</summary>
    private const long Budget = 32L << 20;

    /// <summary>Managed bytes allocated (by any thread) since the last collection after which the next step waits for one.</summary>
    public const long CollectAfterBytes = 16L << 20;

    /// <summary>Every how many collections one is full: most garbage is a step's or a request's and dies young, so the
    /// others collect the young generations only (a fraction of the pause); what outlives them (finished requests,
    /// evicted cache entries) waits for the next full one.</summary>
    public const int FullEvery = 8;

    // The region is process-wide: overlapping steps share one region, started by a step that finds none open (the first, or
    // the first after a collection or after the runtime dropped an exhausted one) and ended only by the gate's collection.
    private static readonly object Gate = new();
    private static int s_holders;
    private static bool s_owned;
    private static bool s_collectionDue;
    private static long s_allocatedAtCollection = GC.GetTotalAllocatedBytes();
    private static long s_collections;
    private static long s_collectionTicks;
    [ThreadStatic] private static int t_held;   // guards this thread holds: it never waits for its own step to end
    private bool _disposed;

    private ScalarGcGuard() { }

    /// <summary>Collections run by the gate since the process started.</summary>
    public static long Collections => Interlocked.Read(ref s_collections);

    /// <summary>Time spent in those collections (their pause, not the steps' wait for them).</summary>
    public static TimeSpan CollectionTime => Stopwatch.GetElapsedTime(0, Interlocked.Read(ref s_collectionTicks));

    /// <summary>Enters a step: waits while a due collection waits for running steps, then joins (or opens) the region.</summary>
    public static ScalarGcGuard Enter()
    {
        lock (Gate)
        {
            if (t_held == 0)
            {
                s_collectionDue |= GC.GetTotalAllocatedBytes() - s_allocatedAtCollection > CollectAfterBytes;
                while (s_collectionDue)
                {
                    if (s_holders == 0) { CollectLocked(); break; }
                    Monitor.Wait(Gate);
                }
            }
            t_held++;
            if (s_holders++ == 0 && GCSettings.LatencyMode != GCLatencyMode.NoGCRegion)
                s_owned = GC.TryStartNoGCRegion(Budget);
        }
        return new ScalarGcGuard();
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        lock (Gate)
        {
            t_held--;
            if (--s_holders == 0 && s_collectionDue) CollectLocked();   // else the region stays open for the next step
        }
    }

    /// <summary>Whether a no-GC region of the guard's is open now (none while a collection runs or after the runtime
    /// dropped an exhausted one).</summary>
    public static bool RegionOpen
    {
        get { lock (Gate) return s_owned && GCSettings.LatencyMode == GCLatencyMode.NoGCRegion; }
    }

    private static void CollectLocked()
    {
        long start = Stopwatch.GetTimestamp();
        EndRegionLocked();
        GC.Collect(s_collections % FullEvery == FullEvery - 1 ? GC.MaxGeneration : 1);
        Interlocked.Add(ref s_collectionTicks, Stopwatch.GetTimestamp() - start);
        Interlocked.Increment(ref s_collections);
        s_allocatedAtCollection = GC.GetTotalAllocatedBytes();
        s_collectionDue = false;
        Monitor.PulseAll(Gate);
    }

    private static void EndRegionLocked()
    {
        if (!s_owned) return;
        s_owned = false;
        // Past its budget the runtime has already left the region (collecting), and ending it then would throw.
        if (GCSettings.LatencyMode != GCLatencyMode.NoGCRegion) return;
        try { GC.EndNoGCRegion(); }
        catch (InvalidOperationException) { }   // dropped by another thread's allocation since the check
    }
}
