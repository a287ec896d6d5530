using System.Globalization;
using DetailFlow.Api.Hosting;
using DetailFlow.Core.Generation;
using Microsoft.Extensions.Caching.Hybrid;
using Microsoft.Extensions.Options;

namespace DetailFlow.Api.Caching;

/// <summary>
/// Generated codes in <see cref="HybridCache"/> (L1 memory, L2 Redis when configured). The key is the model
/// fingerprint, the class and every sampling field including the seed — not the detail level: codes are drawn per
/// (seed, code index), so the codes of a short prefix are the start of the long one. The base key holds the longest
/// codes seen; a per-length key deduplicates identical concurrent computations. The final PNG of each detail level is
/// cached beside the codes, so a repeated request is answered without decoding. Stored results (for refine) live
/// under their id.
/// </summary>
public sealed class CodeCache(HybridCache cache, IOptions<CacheOptions> options)
{
    private static readonly HybridCacheEntryOptions ReadOnly = new()
    {
        Flags = HybridCacheEntryFlags.DisableLocalCacheWrite | HybridCacheEntryFlags.DisableDistributedCacheWrite,
    };

    private HybridCacheEntryOptions Entry => new()
    {
        Expiration = TimeSpan.FromMinutes(options.Value.ExpirationMinutes),
        LocalCacheExpiration = TimeSpan.FromMinutes(options.Value.ExpirationMinutes),
    };

    public static string Key(LoadedModel model, long classId, SamplingOptions s) => string.Create(CultureInfo.InvariantCulture,
        $"codes:{model.Fingerprint}:{classId}:{s.CfgScale:R}:{s.GradualCfg}:{s.Temperature:R}:{s.TopK}:{s.TopP:R}:{s.Greedy}:{s.Seed}");

    /// <summary>The longest codes cached under <paramref name="key"/>, or null.</summary>
    public async Task<long[]?> FindAsync(string key, CancellationToken ct) =>
        await cache.GetOrCreateAsync<long[]?>(key, _ => ValueTask.FromResult<long[]?>(null), ReadOnly, cancellationToken: ct);

    /// <summary>Computes the codes for <paramref name="tokens"/> once, however many identical requests ask at the same time.</summary>
    public async Task<long[]> GetOrComputeAsync(string key, int tokens, Func<CancellationToken, Task<long[]>> compute, CancellationToken ct) =>
        await cache.GetOrCreateAsync($"{key}:t{tokens}", async c => await compute(c), Entry, cancellationToken: ct);

    /// <summary>Makes <paramref name="codes"/> the base entry unless a longer one is already there.</summary>
    public async Task StoreLongestAsync(string key, long[] codes, long[]? known, CancellationToken ct)
    {
        if (known is not null && known.Length >= codes.Length) return;
        await cache.SetAsync(key, codes, Entry, cancellationToken: ct);
    }

    /// <summary>The cached final image of the first <paramref name="tokens"/> codes under <paramref name="key"/>, or null.</summary>
    public async Task<CachedImage?> FindImageAsync(string key, int tokens, CancellationToken ct) =>
        await cache.GetOrCreateAsync<CachedImage?>(ImageKey(key, tokens), _ => ValueTask.FromResult<CachedImage?>(null), ReadOnly, cancellationToken: ct);

    public async Task StoreImageAsync(string key, int tokens, CachedImage image, CancellationToken ct) =>
        await cache.SetAsync(ImageKey(key, tokens), image, Entry, cancellationToken: ct);

    private static string ImageKey(string key, int tokens) => string.Create(CultureInfo.InvariantCulture, $"{key}:t{tokens}:png");

    public async Task StoreResultAsync(string id, StoredResult result, CancellationToken ct) =>
        await cache.SetAsync($"result:{id}", result, Entry, cancellationToken: ct);

    public async Task<StoredResult?> FindResultAsync(string id, CancellationToken ct) =>
        await cache.GetOrCreateAsync<StoredResult?>($"result:{id}", _ => ValueTask.FromResult<StoredResult?>(null), ReadOnly, cancellationToken: ct);
}

/// <summary>A final image: its decoded resolution and PNG bytes.</summary>
public sealed record CachedImage(int Resolution, byte[] Png);

/// <summary>What <c>/v1/refine</c> needs to continue a result: its class, sampling settings (seed included) and codes.</summary>
public sealed record StoredResult(string Fingerprint, long ClassId, SamplingOptions Options, long[] Codes);
