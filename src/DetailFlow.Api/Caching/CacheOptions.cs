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
}
