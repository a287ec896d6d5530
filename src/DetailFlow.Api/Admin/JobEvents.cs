using System.Collections.Concurrent;

namespace DetailFlow.Api.Admin;

/// <summary>
/// Wakes this process's progress streams when a job it runs changes (streams also poll, for other replicas' jobs). A
/// stream takes the job's <see cref="Version"/> before it reads the record and then waits for a later one, so a change
/// saved while it was reading or sending is not lost: before, a wake-up that found no stream waiting was dropped, and a
/// job faster than the poll showed no step between its first and its last.
/// </summary>
public sealed class JobEvents
{
    private readonly ConcurrentDictionary<string, Changes> _jobs = new();

    /// <summary>How many changes of <paramref name="id"/> have been notified so far.</summary>
    public long Version(string id) => _jobs.TryGetValue(id, out var changes) ? changes.Version : 0;

    public void Notify(string id) => _jobs.GetOrAdd(id, _ => new Changes()).Advance();

    /// <summary>
    /// Completes once <paramref name="id"/> has changed since <paramref name="seen"/> (at once if it already has), or
    /// after <paramref name="timeout"/>.
    /// </summary>
    public async Task WaitAsync(string id, long seen, TimeSpan timeout, CancellationToken ct)
    {
        var changed = _jobs.GetOrAdd(id, _ => new Changes()).After(seen);
        try { await changed.WaitAsync(timeout, ct); }
        catch (TimeoutException) { }
    }

    private sealed class Changes
    {
        private readonly Lock _lock = new();
        private TaskCompletionSource _next = New();
        private long _version;

        public long Version
        {
            get { lock (_lock) return _version; }
        }

        public void Advance()
        {
            TaskCompletionSource reached;
            lock (_lock)
            {
                _version++;
                (reached, _next) = (_next, New());
            }
            reached.TrySetResult();
        }

        public Task After(long seen)
        {
            lock (_lock) return _version != seen ? Task.CompletedTask : _next.Task;
        }

        private static TaskCompletionSource New() => new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
