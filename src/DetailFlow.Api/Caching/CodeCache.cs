using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using DetailFlow.Api.Hosting;
using DetailFlow.Core.Generation;
using Microsoft.Extensions.Caching.Distributed;
using Microsoft.Extensions.Caching.Hybrid;
using Microsoft.Extensions.Options;

namespace DetailFlow.Api.Caching;

/// <summary>
/// Generated codes in <see cref="HybridCache"/> (L1 memory, L2 Redis when configured), one <see cref="CodeEntry"/> per
/// id. The id hashes the model fingerprint, the class and every sampling field including the seed (and, for codes a
/// client supplied, those codes) — not the detail level: codes are drawn per (seed, code index), so the codes of a short
/// prefix are the start of the long one. An entry holds the longest codes generated and the final PNG of that detail,
/// and it is what <c>/v1/refine</c> continues (a result's <c>codes_id</c> is its id and detail, <see cref="CodesId"/>).
/// A request reads its entry once and writes it at most once (never on a hit).
/// </summary>
public sealed class CodeCache(HybridCache cache, IOptions<CacheOptions> options, IDistributedCache? secondLevel = null)
{
    private static readonly HybridCacheEntryOptions ReadOnly = new()
    {
        Flags = HybridCacheEntryFlags.DisableLocalCacheWrite | HybridCacheEntryFlags.DisableDistributedCacheWrite,
    };

    /// <summary>Neither read nor written: the call only joins identical computations in flight.</summary>
    private static readonly HybridCacheEntryOptions InFlightOnly = new()
    {
        Flags = HybridCacheEntryFlags.DisableLocalCache | HybridCacheEntryFlags.DisableDistributedCache,
    };

    private HybridCacheEntryOptions Entry => new()
    {
        Expiration = TimeSpan.FromMinutes(options.Value.ExpirationMinutes),
        // With Redis behind it, the in-process level is a short-lived front (Redis answers the rest in a round trip), so it
        // reaches its steady size within minutes instead of filling its budget over the whole expiration.
        LocalCacheExpiration = TimeSpan.FromMinutes(secondLevel is null ? options.Value.ExpirationMinutes
            : Math.Min(options.Value.LocalExpirationMinutes, options.Value.ExpirationMinutes)),
    };

    /// <summary>The id of the codes of (model, class, sampling with seed), or of codes a client supplied for them.</summary>
    public static string Id(LoadedModel model, long classId, SamplingOptions s, long[]? supplied = null)
    {
        string text = string.Create(CultureInfo.InvariantCulture,
            $"{model.Fingerprint}:{classId}:{s.CfgScale:R}:{s.GradualCfg}:{s.Temperature:R}:{s.TopK}:{s.TopP:R}:{s.Greedy}:{s.Seed}");
        if (supplied is not null) text += ":" + string.Join(',', supplied);
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)))[..32];
    }

    /// <summary>A result's <c>codes_id</c>: its entry's id and its detail level.</summary>
    public static string CodesId(string id, int tokens) => string.Create(CultureInfo.InvariantCulture, $"{id}t{tokens}");

    /// <summary>Splits a <c>codes_id</c> into the entry's id and the result's detail; false when it is not one.</summary>
    public static bool TryParseCodesId(string? codesId, out string id, out int tokens)
    {
        (id, tokens) = ("", 0);
        if (codesId is not { Length: > 33 and <= 64 } || codesId[32] != 't' || !codesId[..32].All(char.IsAsciiHexDigitLower)) return false;
        if (!int.TryParse(codesId.AsSpan(33), NumberStyles.None, CultureInfo.InvariantCulture, out tokens) || tokens <= 0) return false;
        id = codesId[..32];
        return true;
    }

    /// <summary>The entry under <paramref name="id"/>, or null.</summary>
    public async Task<CodeEntry?> FindAsync(string id, CancellationToken ct) =>
        await cache.GetOrCreateAsync<CodeEntry?>(Key(id), _ => ValueTask.FromResult<CodeEntry?>(null), ReadOnly, cancellationToken: ct);

    /// <summary>Runs <paramref name="compute"/> once however many identical requests ask at the same time (nothing is cached by this call).</summary>
    public async Task<T> ComputeOnceAsync<T>(string id, int tokens, Func<CancellationToken, Task<T>> compute, CancellationToken ct) =>
        await cache.GetOrCreateAsync(string.Create(CultureInfo.InvariantCulture, $"{Key(id)}:t{tokens}"), async c => await compute(c),
            InFlightOnly, cancellationToken: ct);

    public async Task StoreAsync(string id, CodeEntry entry, CancellationToken ct) =>
        await cache.SetAsync(Key(id), entry, Entry, cancellationToken: ct);

    private static string Key(string id) => $"codes:{id}";
}

/// <summary>A final image: its decoded resolution and PNG bytes.</summary>
public sealed record CachedImage(int Resolution, byte[] Png);

/// <summary>
/// What is cached for one id: the model it was generated with, its class and sampling (seed included) — all that
/// <c>/v1/refine</c> needs to continue it — its longest codes, and the final image at <see cref="ImageTokens"/>.
/// </summary>
/// <remarks>
/// Never changed once made (readers slice or copy the arrays), so the in-process level keeps the instance itself rather
/// than its serialized copy (<see cref="CodeEntrySerializer"/>, Redis's form) deserialized again on every hit (docs/memory.md).
/// </remarks>
[System.ComponentModel.ImmutableObject(true)]
public sealed record CodeEntry(string Fingerprint, long ClassId, SamplingOptions Options, long[] Codes, int ImageTokens, CachedImage Image);
