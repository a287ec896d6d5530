using System.Collections.Concurrent;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Caching.Hybrid;

namespace DetailFlow.Api.Tests;

/// <summary>
/// A <see cref="HybridCache"/> decorator that holds every shared code computation (keys <c>…:t{tokens}</c>) at a gate
/// until <see cref="Open"/>, and records the token each caller passed, so a test can line up identical concurrent
/// requests and disconnect one of them before the work starts — without timing assumptions.
/// </summary>
public sealed partial class GatedHybridCache(HybridCache inner) : HybridCache, IHybridCacheDecorator<GatedHybridCache>
{
    private readonly TaskCompletionSource _gate = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly ConcurrentQueue<CancellationToken> _callers = new();

    [GeneratedRegex(@":t\d+$")]
    private static partial Regex ComputationKey();

    public void Open() => _gate.TrySetResult();

    public static GatedHybridCache Wrap(HybridCache inner) => new(inner);

    /// <summary>The token of the <paramref name="n"/>-th caller (1-based) of a gated computation, once it has called.</summary>
    public async Task<CancellationToken> Caller(int n)
    {
        await Eventually(() => _callers.Count, count => count >= n, TimeSpan.FromSeconds(30), $"fewer than {n} callers reached the cache (count shown)");
        return _callers.ElementAt(n - 1);
    }

    public override ValueTask<T> GetOrCreateAsync<TState, T>(string key, TState state, Func<TState, CancellationToken, ValueTask<T>> factory,
        HybridCacheEntryOptions? options = null, IEnumerable<string>? tags = null, CancellationToken cancellationToken = default)
    {
        if (!ComputationKey().IsMatch(key)) return inner.GetOrCreateAsync(key, state, factory, options, tags, cancellationToken);
        // The inner call joins (or starts) the stampede synchronously, before the caller is recorded.
        var result = inner.GetOrCreateAsync(key, (State: state, Factory: factory, Gate: _gate.Task), static async (s, shared) =>
        {
            await s.Gate.WaitAsync(shared);
            return await s.Factory(s.State, shared);
        }, options, tags, cancellationToken);
        _callers.Enqueue(cancellationToken);
        return result;
    }

    public override ValueTask SetAsync<T>(string key, T value, HybridCacheEntryOptions? options = null, IEnumerable<string>? tags = null,
        CancellationToken cancellationToken = default) => inner.SetAsync(key, value, options, tags, cancellationToken);

    public override ValueTask RemoveAsync(string key, CancellationToken cancellationToken = default) => inner.RemoveAsync(key, cancellationToken);

    public override ValueTask RemoveByTagAsync(string tag, CancellationToken cancellationToken = default) => inner.RemoveByTagAsync(tag, cancellationToken);
}
