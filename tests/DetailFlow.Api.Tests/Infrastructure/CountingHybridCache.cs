using Microsoft.Extensions.Caching.Hybrid;

namespace DetailFlow.Api.Tests;

/// <summary>A <see cref="HybridCache"/> decorator that counts reads (lookups that may return a stored value) and writes.</summary>
public sealed class CountingHybridCache(HybridCache inner) : HybridCache, IHybridCacheDecorator<CountingHybridCache>
{
    private int _reads, _writes;

    public int Reads => Volatile.Read(ref _reads);
    public int Writes => Volatile.Read(ref _writes);

    public static CountingHybridCache Wrap(HybridCache inner) => new(inner);

    public override ValueTask<T> GetOrCreateAsync<TState, T>(string key, TState state, Func<TState, CancellationToken, ValueTask<T>> factory,
        HybridCacheEntryOptions? options = null, IEnumerable<string>? tags = null, CancellationToken cancellationToken = default)
    {
        var flags = options?.Flags ?? HybridCacheEntryFlags.None;
        const HybridCacheEntryFlags noRead = HybridCacheEntryFlags.DisableLocalCacheRead | HybridCacheEntryFlags.DisableDistributedCacheRead;
        const HybridCacheEntryFlags noWrite = HybridCacheEntryFlags.DisableLocalCacheWrite | HybridCacheEntryFlags.DisableDistributedCacheWrite;
        if ((flags & noRead) != noRead) Interlocked.Increment(ref _reads);
        if ((flags & noWrite) != noWrite) Interlocked.Increment(ref _writes);   // a miss would store the factory's value
        return inner.GetOrCreateAsync(key, state, factory, options, tags, cancellationToken);
    }

    public override ValueTask SetAsync<T>(string key, T value, HybridCacheEntryOptions? options = null, IEnumerable<string>? tags = null,
        CancellationToken cancellationToken = default)
    {
        Interlocked.Increment(ref _writes);
        return inner.SetAsync(key, value, options, tags, cancellationToken);
    }

    public override ValueTask RemoveAsync(string key, CancellationToken cancellationToken = default) => inner.RemoveAsync(key, cancellationToken);

    public override ValueTask RemoveByTagAsync(string tag, CancellationToken cancellationToken = default) => inner.RemoveByTagAsync(tag, cancellationToken);
}
