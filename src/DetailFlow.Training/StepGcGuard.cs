using System.Runtime;

namespace DetailFlow.Training;

/// <summary>
/// Runs each training step inside a no-GC region, collecting between steps. Why: TorchSharp 0.107 hands implicit
/// <c>Scalar</c> temporaries (the alpha of every <c>a + b</c>, the exponent of <c>pow(2)</c>, …) to native code
/// without keeping them alive; a collection triggered by another thread (the prefetch loader, a progress renderer)
/// while a step is inside such a call can finalize the Scalar mid-call — observed as
/// <c>Unknown scalar type</c> / <c>INTERNAL ASSERT FAILED at Scalar.h</c> in about one test run in three under load.
/// If the step allocates more than the budget the runtime collects anyway and the region ends early (rare: a step
/// allocates well under a megabyte of managed memory).
/// </summary>
internal sealed class StepGcGuard : IDisposable
{
    /// <summary>Managed bytes the process may allocate during one step without a collection.</summary>
    private const long Budget = 32L << 20;

    private readonly bool _active;

    private StepGcGuard(bool active) => _active = active;

    public static StepGcGuard Enter()
    {
        if (GCSettings.LatencyMode == GCLatencyMode.NoGCRegion) return new StepGcGuard(false);
        return new StepGcGuard(GC.TryStartNoGCRegion(Budget));
    }

    public void Dispose()
    {
        if (_active && GCSettings.LatencyMode == GCLatencyMode.NoGCRegion) GC.EndNoGCRegion();
    }
}
