using System.Diagnostics;

namespace DetailFlow.Api.Batching;

/// <summary>
/// How many generations per second the batcher has been finishing over the last <see cref="Window"/>: with it admission
/// turns away work that could not finish within its deadline at this rate (a prompt 429) instead of queueing it to time
/// out later (a 504). Unknown (null) until a few generations have finished within the window, e.g. after an idle spell.
/// The rate is computed when a generation finishes; admission reads it on every request without taking the lock.
/// </summary>
internal sealed class CompletionRate
{
    public static readonly TimeSpan Window = TimeSpan.FromSeconds(60);
    private const int MinSamples = 4;
    private static readonly long WindowTicks = (long)(Window.TotalSeconds * Stopwatch.Frequency);
    private readonly Queue<long> _finished = new();   // Stopwatch timestamps
    private Snapshot? _last;

    private sealed record Snapshot(double? PerSecond, long NewestAt);

    public void Completed()
    {
        lock (_finished)
        {
            long now = Stopwatch.GetTimestamp();
            _finished.Enqueue(now);
            while (_finished.Peek() < now - WindowTicks) _finished.Dequeue();
            double span = (double)(now - _finished.Peek()) / Stopwatch.Frequency;
            double? rate = _finished.Count >= MinSamples && span > 0 ? (_finished.Count - 1) / span : null;
            Volatile.Write(ref _last, new Snapshot(rate, now));
        }
    }

    /// <summary>Generations per second as of the last completion, or null while too few finished within the window.</summary>
    public double? PerSecond
    {
        get
        {
            var last = Volatile.Read(ref _last);
            return last is null || Stopwatch.GetTimestamp() - last.NewestAt > WindowTicks ? null : last.PerSecond;
        }
    }
}
