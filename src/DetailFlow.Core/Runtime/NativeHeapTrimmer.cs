namespace DetailFlow.Core.Runtime;

/// <summary>
/// Keeps a long loop of model steps (training) from accumulating free native heap (see <see cref="NativeHeap"/>): after
/// each step <see cref="AfterStep"/> trims the heap once the resident size has grown by more than
/// <see cref="BudgetBytes"/> over its baseline. The baseline is the resident size one step after the first step and
/// after each trim: a trim also releases the free pages the next step reuses, and growing back to the working set must
/// not count as growth. A trim costs tens of milliseconds, so the budget keeps it rare (docs/memory.md). Reading the
/// resident size costs a file read; a loop of short steps (serving) passes a check interval so it reads it at most that
/// often, not at every step.
/// </summary>
public sealed class NativeHeapTrimmer
{
    public const long DefaultBudgetBytes = 128L << 20;
    private readonly long _checkEveryTicks;
    private long _baseline = -1, _nextCheck;

    public NativeHeapTrimmer(long budgetBytes = DefaultBudgetBytes, TimeSpan checkEvery = default)
    {
        if (budgetBytes <= 0) throw new ArgumentOutOfRangeException(nameof(budgetBytes), budgetBytes, "the growth budget must be positive");
        if (checkEvery < TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(checkEvery), checkEvery, "the check interval cannot be negative");
        BudgetBytes = budgetBytes;
        _checkEveryTicks = (long)(checkEvery.TotalSeconds * System.Diagnostics.Stopwatch.Frequency);
    }

    public long BudgetBytes { get; }

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
        if (_baseline < 0) { _baseline = rss; return false; }
        if (rss - _baseline <= BudgetBytes) return false;
        if (!NativeHeap.Trim()) { _baseline = rss; return false; } // no malloc_trim here: just track the growth
        Trims++;
        _baseline = -1; // re-measured after the next step, once it has faulted its working set back in
        return true;
    }
}
