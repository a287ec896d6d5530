using System.Runtime;

namespace DetailFlow.Core.Runtime;

/// <summary>
/// Runs one model step (a training step, an engine step, a decode) inside a no-GC region; the runtime collects between
/// steps. Why: TorchSharp 0.107 hands implicit
/// <c>Scalar</c> temporaries (the alpha of every <c>a + b</c>, the exponent of <c>pow(2)</c>, …) to native code
/// without keeping them alive; a collection triggered by another thread (the prefetch loader, request handlers, PNG encoders)
/// while a step is inside such a call can finalize the Scalar mid-call — observed as
/// <c>Unknown scalar type</c> / <c>INTERNAL ASSERT FAILED at Scalar.h</c> in about one test run in three under load.
/// If the step allocates more than the budget the runtime collects anyway and the region ends early (rare: a step
/// allocates well under a megabyte of managed memory).
/// </summary>
public sealed class ScalarGcGuard : IDisposable
{
    /// <summary>Managed bytes the process may allocate during one step without a collection.</summary>
    private const long Budget = 32L << 20;

    // The region is process-wide: overlapping steps (several models in one process, e.g. tests) share one region,
    // started by the first entrant and ended by the last.
    private static readonly Lock Gate = new();
    private static int s_holders;
    private static bool s_owned;
    private bool _disposed;

    private ScalarGcGuard() { }

    public static ScalarGcGuard Enter()
    {
        lock (Gate)
        {
            if (s_holders++ == 0)
                s_owned = GCSettings.LatencyMode != GCLatencyMode.NoGCRegion && GC.TryStartNoGCRegion(Budget);
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
