namespace DetailFlow.Api.Batching;

/// <summary>
/// Room in the <see cref="Batcher"/>'s queue reserved for one request's jobs (<see cref="Batcher.TryAdmit"/>). Each job
/// submitted through it takes one reserved place; a job beyond the reservation (a request that turned out to need more)
/// asks the queue for fresh room. Disposing gives back the places no job took.
/// </summary>
public sealed class Admission : IDisposable
{
    private readonly Batcher _batcher;
    private readonly int _retryAfterSeconds;
    private int _left;

    internal Admission(Batcher batcher, int count, int retryAfterSeconds) => (_batcher, _left, _retryAfterSeconds) = (batcher, count, retryAfterSeconds);

    /// <summary>Queues <paramref name="job"/> like <see cref="TrySubmit"/>; <see cref="QueueFullException"/> when there is no room.</summary>
    public void Submit(InferenceJob job)
    {
        if (!TrySubmit(job)) throw new QueueFullException(_retryAfterSeconds);
    }

    /// <summary>Queues <paramref name="job"/> in a reserved place, or in fresh room; false when there is neither.</summary>
    public bool TrySubmit(InferenceJob job)
    {
        if (!TryTake())
        {
            using var more = _batcher.TryAdmit(1);
            return more?.TrySubmit(job) ?? false;
        }
        _batcher.Enqueue(job);
        return true;
    }

    private bool TryTake()
    {
        while (true)
        {
            int left = Volatile.Read(ref _left);
            if (left == 0) return false;
            if (Interlocked.CompareExchange(ref _left, left - 1, left) == left) return true;
        }
    }

    public void Dispose()
    {
        int left = Interlocked.Exchange(ref _left, 0);
        if (left > 0) _batcher.Release(left);
    }
}

/// <summary>The queue had no room for the request's jobs (429 with Retry-After).</summary>
public sealed class QueueFullException(int retryAfterSeconds) : Exception("the generation queue is full")
{
    public int RetryAfterSeconds { get; } = retryAfterSeconds;
}
