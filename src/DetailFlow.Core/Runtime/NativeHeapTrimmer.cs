namespace DetailFlow.Core.Runtime;

/// <summary>
/// Keeps a long loop of model steps (training, serving) from accumulating free native heap (see <see cref="NativeHeap"/>):
/// after each step <see cref="AfterStep"/> trims the heap once the resident size has grown by more than
/// <see cref="BudgetBytes"/> over its baseline. The baseline is the resident size's high-water over the
/// <see cref="SettleChecks"/> checks after the start and after each trim: a trim also releases free pages the next steps
/// reuse, and growing back to the working set must not count as growth. One check suffices when every step touches the
/// whole working set (training); serving's steps differ in size, and a baseline taken at one low moment made it trim
/// again each time a larger batch came back (docs/memory.md). A trim costs tens of milliseconds, so the
/// budget keeps it rare. Reading the resident size costs a file read; a loop of short steps passes a check interval so
/// it reads it at most that often, not at every step. Serving trims by the clock instead (DetailFlow.Api's
/// <c>HeapTrims</c>): its batches differ in size from step to step, so no baseline tells growth from a larger batch.
/// </summary>
public sealed class NativeHeapTrimmer
{
    public const long DefaultBudgetBytes = 128L << 20;
    private readonly long _checkEveryTicks;
    private long _baseline = -1, _nextCheck;
    private int _settling;

    public NativeHeapTrimmer(long budgetBytes = DefaultBudgetBytes, TimeSpan checkEvery = default, int settleChecks = 1)
    {
        if (budgetBytes <= 0) throw new ArgumentOutOfRangeException(nameof(budgetBytes), budgetBytes, "the growth budget must be positive");
        if (checkEvery < TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(checkEvery), checkEvery, "the check interval cannot be negative");
        if (settleChecks < 1) throw new ArgumentOutOfRangeException(nameof(settleChecks), settleChecks, "the baseline needs at least one check");
        BudgetBytes = budgetBytes;
        SettleChecks = _settling = settleChecks;
        _checkEveryTicks = (long)(checkEvery.TotalSeconds * System.Diagnostics.Stopwatch.Frequency);
    }

    public long BudgetBytes { get; }

    /// <summary>Checks whose resident size make up the baseline (its maximum) after the start and after each trim.</summary>
    public int SettleChecks { get; }

    /// <summary>Trims performed so far.</summary>
    public int Trims { get; private set; }

    /// <summary>Call between steps; returns true if it trimmed.</summary>
    public bool AfterStep()
    {
        if (_checkEveryTicks > 0)
        {
            long now = System.Diagnostics.Stopwatch.GetTimestamp();
            if (now < _nextCheck) return false;
            _nextCheck = now + _checkEveryTicks;
        }
        long rss = NativeHeap.ResidentBytes();
        if (_settling > 0)
        {
            _baseline = Math.Max(_baseline, rss);
            _settling--;
            return false;
        }
        if (rss - _baseline <= BudgetBytes) return false;
        if (!NativeHeap.Trim()) { _baseline = rss; return false; } // no malloc_trim here: just track the growth
        Trims++;
        _baseline = -1; // re-measured over the next checks, as they fault the working set back in
        _settling = SettleChecks;
        return true;
    }
}
