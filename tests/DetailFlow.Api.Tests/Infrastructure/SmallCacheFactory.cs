using System.Net.Http.Json;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.DependencyInjection;

namespace DetailFlow.Api.Tests;

/// <summary>The service with a 1 MiB in-process cache (CacheOptions:MemoryMegabytes).</summary>
public sealed class SmallCacheFactory : ApiFactory
{
    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["CacheOptions:MemoryMegabytes"] = "1",
        ["RateLimitOptions:PermitsPerMinute"] = "100000",
    };
}
