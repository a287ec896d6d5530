using System.Diagnostics;

namespace DetailFlow.Api.Batching;

/// <summary>
/// How many generations per second the batcher has been finishing over the last <see cref="Window"/>: with it admission
/// turns away work that could not finish within its deadline at this rate (a prompt 429) instead of queueing it to time
/// out later (a 504). Unknown (null) until a few generations have finished within the window, e.g. after an idle spell.
/// </summary>
internal sealed class CompletionRate
{
    public static readonly TimeSpan Window = TimeSpan.FromSeconds(60);
    private const int MinSamples = 4;
    private readonly Queue<long> _finished = new();   // Stopwatch timestamps

    public void Completed()
    {
        lock (_finished)
        {
            _finished.Enqueue(Stopwatch.GetTimestamp());
            Trim();
        }
    }

    /// <summary>Generations per second, or null while too few finished within the window.</summary>
    public double? PerSecond
    {
        get
        {
            lock (_finished)
            {
                Trim();
                if (_finished.Count < MinSamples) return null;
                double span = Stopwatch.GetElapsedTime(_finished.Peek()).TotalSeconds;
                return span > 0 ? (_finished.Count - 1) / span : null;
            }
        }
    }

    private void Trim()
    {
        long oldest = Stopwatch.GetTimestamp() - (long)(Window.TotalSeconds * Stopwatch.Frequency);
        while (_finished.Count > 0 && _finished.Peek() < oldest) _finished.Dequeue();
    }
}
