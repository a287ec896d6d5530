using System.Net.Http.Json;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.Caching.Hybrid;
using Microsoft.Extensions.DependencyInjection;

namespace DetailFlow.Api.Tests;

/// <summary>A <see cref="HybridCache"/> decorator that counts reads (lookups that may return a stored value) and writes.</summary>
public sealed class CountingHybridCache(HybridCache inner) : HybridCache
{
    private int _reads, _writes;

    public int Reads => Volatile.Read(ref _reads);
    public int Writes => Volatile.Read(ref _writes);

    public static void Replace(IServiceCollection services)
    {
        var original = services.Last(d => d.ServiceType == typeof(HybridCache));
        services.Remove(original);
        services.AddSingleton<HybridCache>(sp => new CountingHybridCache((HybridCache)(original.ImplementationInstance
            ?? original.ImplementationFactory?.Invoke(sp) ?? ActivatorUtilities.CreateInstance(sp, original.ImplementationType!))));
    }

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

public sealed class CountingCacheFactory : ApiFactory
{
    public CountingHybridCache Cache => (CountingHybridCache)Services.GetRequiredService<HybridCache>();

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        builder.ConfigureTestServices(CountingHybridCache.Replace);
    }
}

public sealed class CacheTrafficTests(CountingCacheFactory api) : IClassFixture<CountingCacheFactory>
{
    /// <summary>The cache reads and writes <paramref name="send"/> makes (this class's requests run one at a time).</summary>
    private async Task<(int Reads, int Writes)> Traffic(Func<HttpClient, Task<HttpResponseMessage>> send)
    {
        using var client = api.CreateClient();
        var (reads, writes) = (api.Cache.Reads, api.Cache.Writes);
        using var response = await send(client);
        response.EnsureSuccessStatusCode();
        return (api.Cache.Reads - reads, api.Cache.Writes - writes);
    }

    [Fact]
    public async Task EachRequest_ReadsOnce_WritesAtMostOnce_AndNeverOnAHit()
    {
        var body = ApiFactory.Body(seed: 4242, tokens: 16);
        Assert.Equal((1, 1), await Traffic(c => c.PostAsJsonAsync("/v1/generate", body)));   // miss: its entry
        Assert.Equal((1, 0), await Traffic(c => c.PostAsJsonAsync("/v1/generate", body)));   // hit: the cached image
        Assert.Equal((1, 0), await Traffic(c => c.PostAsJsonAsync("/v1/generate", ApiFactory.Body(seed: 4242, tokens: 8))));   // hit: decoded

        using var client = api.CreateClient();
        var coarse = await client.PostAsJsonAsync("/v1/generate", body);
        string id = coarse.Headers.GetValues("X-Codes-Id").Single();
        Assert.Equal((1, 1), await Traffic(c => c.PostAsJsonAsync("/v1/refine", new { codes_id = id, tokens = 32 })));   // continued
        Assert.Equal((1, 0), await Traffic(c => c.PostAsJsonAsync("/v1/refine", new { codes_id = id, tokens = 32 })));   // now cached
        Assert.Equal((0, 1), await Traffic(c => c.PostAsJsonAsync("/v1/generate", ApiFactory.Body(tokens: 8))));   // no seed: not looked up
    }
}
