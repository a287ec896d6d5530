using System.Runtime;

namespace DetailFlow.Core.Runtime;

/// <summary>
/// Runs one model step (a training step, an engine step, a decode) inside a no-GC region; collections happen between
/// steps. Why: TorchSharp 0.107 hands implicit
/// <c>Scalar</c> temporaries (the alpha of every <c>a + b</c>, the exponent of <c>pow(2)</c>, …) to native code
/// without keeping them alive; a collection triggered by another thread (the prefetch loader, request handlers, PNG encoders)
/// while a step is inside such a call can finalize the Scalar mid-call — observed as
/// <c>Unknown scalar type</c> / <c>INTERNAL ASSERT FAILED at Scalar.h</c> in about one test run in three under load.
/// If the step allocates more than the budget the runtime collects anyway and the region ends early (rare: a step
/// allocates well under a megabyte of managed memory).
/// <para>
/// The runtime does not collect between regions by itself: with the regions GC (.NET 7+) starting a region chains fresh
/// regions onto the small-object heap instead of collecting, and a loop of steps allocates almost nothing outside its
/// regions, so no allocation budget ever triggers a collection either. Nor did any finalizer run, so the native memory of
/// every undisposed wrapper (implicit Scalars, generators) stayed allocated too, scattered through the glibc heap.
/// Measured on the default GPT's training (batch 64, ~0.4 MB of managed garbage per step): the managed heap grew without
/// bound (10 → 48 MiB in 100 steps; a GC.Collect took it back to 4), the glibc arena by ~5 MB per step (2.1 GB after 400
/// steps, RSS held down only by <see cref="NativeHeapTrimmer"/>) and RSS by ~0.4–0.5 MB per step after trimming. So
/// <c>Enter(collectGarbage: true)</c> (the training loop's) collects first once the heap has grown by
/// <see cref="CollectAfterBytes"/> since the last collection (a full blocking collection of a small heap takes
/// milliseconds; in training it runs every ~20 steps). Since: the arena stays at ~480 MB, the post-trim RSS flat at
/// ~300 MB over 400 steps, and steps/s unchanged. Serving leaves it off: request threads allocate between steps, so the
/// runtime collects on its own (RSS measured flat under 16 streaming clients), and a full collection on the inference
/// thread each time the heap grew 8 MiB (the result cache alone fills 256 MiB) would stall every row.
/// </para>
/// </summary>
public sealed class ScalarGcGuard : IDisposable
{
    /// <summary>Managed bytes the process may allocate during one step without a collection.</summary>
    private const long Budget = 32L << 20;

    /// <summary>Managed heap growth since the last collection after which a region starts with a collection.</summary>
    public const long CollectAfterBytes = 8L << 20;

    // The region is process-wide: overlapping steps (several models in one process, e.g. tests) share one region,
    // started by the first entrant and ended by the last.
    private static readonly Lock Gate = new();
    private static int s_holders;
    private static bool s_owned;
    private static long s_heapAfterCollect;
    private bool _disposed;

    private ScalarGcGuard() { }

    /// <param name="collectGarbage">Collect first if the heap grew by <see cref="CollectAfterBytes"/> since the last such
    /// collection: for loops that allocate (almost) only inside their steps, such as training.</param>
    public static ScalarGcGuard Enter(bool collectGarbage = false)
    {
        lock (Gate)
        {
            if (s_holders++ == 0 && GCSettings.LatencyMode != GCLatencyMode.NoGCRegion)
            {
                if (collectGarbage && GC.GetTotalMemory(false) - s_heapAfterCollect > CollectAfterBytes)
                {
                    GC.Collect();
                    s_heapAfterCollect = GC.GetTotalMemory(false);
                }
                s_owned = GC.TryStartNoGCRegion(Budget);
            }
        }
        return new ScalarGcGuard();
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        lock (Gate)
        {
            if (--s_holders > 0 || !s_owned) return;
            s_owned = false;
            // Past the budget the runtime has already left the region (and ending it would throw).
            if (GCSettings.LatencyMode == GCLatencyMode.NoGCRegion) GC.EndNoGCRegion();
        }
    }
}
