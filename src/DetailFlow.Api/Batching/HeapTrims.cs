using DetailFlow.Core.Runtime;

namespace DetailFlow.Api.Batching;

/// <summary>
/// When serving hands free native heap back to the kernel (<see cref="NativeHeap.Trim"/>): every <see cref="Period"/>
/// while steps run, which keeps the resident size at the working set (the steps' and decodes' transient blocks
/// otherwise pile up: docs/memory.md), and once when the engine has been idle for <see cref="IdleAfter"/>, so a quiet
/// service also returns what its last steps and decodes left. Trimming less often under small batches was measured and
/// not kept (docs/performance.md).
/// </summary>
internal sealed class HeapTrims
{
    public static readonly TimeSpan Period = TimeSpan.FromSeconds(5), IdleAfter = TimeSpan.FromSeconds(30);

    private readonly TimeProvider _time;
    private readonly Func<bool> _trim;
    private long _lastTrim, _lastStep;
    private bool _steppedSinceTrim;

    public HeapTrims(TimeProvider? time = null, Func<bool>? trim = null)
    {
        _time = time ?? TimeProvider.System;
        _trim = trim ?? NativeHeap.Trim;
        _lastTrim = _time.GetTimestamp();
    }

    /// <summary>Trims run so far (those the C library could run).</summary>
    public int Trims { get; private set; }

    /// <summary>Call after each step.</summary>
    public void AfterStep()
    {
        long now = _time.GetTimestamp();
        _lastStep = now;
        _steppedSinceTrim = true;
        if (_time.GetElapsedTime(_lastTrim, now) >= Period) Trim(now);
    }

    /// <summary>How long the idle engine may wait before <see cref="WhenIdle"/> has a trim to run; null when it has none.</summary>
    public TimeSpan? IdleTrimDueIn
    {
        get
        {
            if (!_steppedSinceTrim) return null;
            var left = IdleAfter - _time.GetElapsedTime(_lastStep);
            return left > TimeSpan.Zero ? left : TimeSpan.Zero;
        }
    }

    /// <summary>Call while the engine has nothing to step; trims once it has been idle for <see cref="IdleAfter"/>.</summary>
    public void WhenIdle()
    {
        if (IdleTrimDueIn == TimeSpan.Zero) Trim(_time.GetTimestamp());
    }

    private void Trim(long now)
    {
        _lastTrim = now;
        _steppedSinceTrim = false;
        if (_trim()) Trims++;
    }
}
