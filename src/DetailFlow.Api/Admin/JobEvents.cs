using System.Collections.Concurrent;

namespace DetailFlow.Api.Admin;

/// <summary>Wakes this process's progress streams when a job it runs changes (streams also poll, for other replicas' jobs).</summary>
public sealed class JobEvents
{
    private readonly ConcurrentDictionary<string, TaskCompletionSource> _waiters = new();

    public void Notify(string id)
    {
        if (_waiters.TryRemove(id, out var tcs)) tcs.TrySetResult();
    }

    /// <summary>Completes at the next <see cref="Notify"/> of <paramref name="id"/> or after <paramref name="timeout"/>.</summary>
    public async Task WaitAsync(string id, TimeSpan timeout, CancellationToken ct)
    {
        var tcs = _waiters.GetOrAdd(id, _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
        try { await tcs.Task.WaitAsync(timeout, ct); }
        catch (TimeoutException) { }
    }
}
