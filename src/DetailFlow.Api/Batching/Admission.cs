namespace DetailFlow.Api.Batching;

/// <summary>
/// Room in the <see cref="Batcher"/>'s queue reserved for one request's jobs (<see cref="Batcher.TryAdmit"/>). Each job
/// submitted through it takes one reserved place; a job beyond the reservation (a request that turned out to need more)
/// asks the queue for fresh room. Disposing gives back the places no job took.
/// </summary>
public sealed class Admission : IDisposable
{
    private readonly Batcher _batcher;
    private int _left;

    internal Admission(Batcher batcher, int count) => (_batcher, _left) = (batcher, count);

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
