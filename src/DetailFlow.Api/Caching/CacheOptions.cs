using System.ComponentModel.DataAnnotations;

namespace DetailFlow.Api.Caching;

/// <summary>
/// Code cache settings (section <c>CacheOptions</c>). Redis becomes the second level when
/// <c>ConnectionStrings:Redis</c> is set; otherwise the cache is in-memory only.
/// </summary>
public sealed class CacheOptions
{
    [Range(1, 525_600, ErrorMessage = "CacheOptions:ExpirationMinutes must be in 1..525600")]
    public int ExpirationMinutes { get; set; } = 60;

    public string RedisInstanceName { get; set; } = "detailflow:";

    /// <summary>How long an entry stays in the in-process level when Redis is the second level (without Redis: <see cref="ExpirationMinutes"/>).</summary>
    [Range(1, 525_600, ErrorMessage = "CacheOptions:LocalExpirationMinutes must be in 1..525600")]
    public int LocalExpirationMinutes { get; set; } = 3;

    /// <summary>
    /// Budget of the in-process cache level in MiB (codes, final PNGs and refine results, sized by their payloads); beyond
    /// it the least recently used entries are evicted (with Redis they stay there until they expire).
    /// </summary>
    [Range(1, 1_048_576, ErrorMessage = "CacheOptions:MemoryMegabytes must be in 1..1048576")]
    public int MemoryMegabytes { get; set; } = 256;
}
