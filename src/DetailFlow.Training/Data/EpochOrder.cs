namespace DetailFlow.Training.Data;

/// <summary>
/// The data order: an endless stream of positions, epoch e = position / Count visiting every item once in a
/// permutation drawn from (seed, e). A position's item is a pure function of (seed, position), so a resumed run that
/// restarts at step s reads exactly what the uninterrupted run would have read (torch's DistributedSampler with
/// <c>set_epoch</c> has the same property).
/// </summary>
public sealed class EpochOrder
{
    private readonly int _count;
    private readonly int _seed;
    private readonly bool _shuffle;
    private (long Epoch, int[] Order)? _cached;
    private readonly Lock _lock = new();

    public EpochOrder(int count, int seed, bool shuffle = true)
    {
        if (count <= 0) throw new ArgumentOutOfRangeException(nameof(count), count, "the data set is empty");
        (_count, _seed, _shuffle) = (count, seed, shuffle);
    }

    public int Count => _count;

    public int IndexAt(long position)
    {
        if (position < 0) throw new ArgumentOutOfRangeException(nameof(position), position, "position must be non-negative");
        if (!_shuffle) return (int)(position % _count);
        long epoch = position / _count;
        lock (_lock)
        {
            if (_cached is not { } c || c.Epoch != epoch)
            {
                var order = Enumerable.Range(0, _count).ToArray();
                new Random(Seeds.Mix(_seed, epoch)).Shuffle(order);
                _cached = c = (epoch, order);
            }
            return c.Order[(int)(position % _count)];
        }
    }
}

/// <summary>Stable seed derivation (SplitMix64 finaliser), so per-step / per-item random streams do not depend on threading.</summary>
public static class Seeds
{
    public static int Mix(long a, long b, long c = 0)
    {
        ulong z = unchecked((ulong)a * 0x9E3779B97F4A7C15UL + (ulong)b * 0xBF58476D1CE4E5B9UL + (ulong)c * 0x94D049BB133111EBUL + 0x2545F4914F6CDD1DUL);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        z ^= z >> 31;
        return (int)(z & 0x7FFFFFFF);
    }
}
