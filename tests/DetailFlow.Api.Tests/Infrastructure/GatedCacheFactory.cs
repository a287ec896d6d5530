using System.Net;
using System.Net.Http.Json;
using DetailFlow.Api.Batching;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.Caching.Hybrid;
using Microsoft.Extensions.DependencyInjection;

namespace DetailFlow.Api.Tests;

/// <summary>The service with its <see cref="HybridCache"/> wrapped in a <see cref="GatedHybridCache"/>.</summary>
public sealed class GatedCacheFactory : ApiFactory
{
    public GatedHybridCache Cache => (GatedHybridCache)Services.GetRequiredService<HybridCache>();

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        builder.ConfigureTestServices(GatedHybridCache.Replace);
    }
}
