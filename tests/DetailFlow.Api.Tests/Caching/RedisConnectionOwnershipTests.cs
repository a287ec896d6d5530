using System.Net;
using System.Net.Http.Json;
using DetailFlow.Api.Admin;
using DetailFlow.Api.Caching;
using Microsoft.Extensions.Caching.Distributed;
using Microsoft.Extensions.DependencyInjection;

namespace DetailFlow.Api.Tests;

/// <summary>Who owns which Redis connection.</summary>
public sealed class RedisConnectionOwnershipTests
{
    /// <summary>
    /// The Redis cache closes the connection it uses when it is disposed (and on a forced reconnect). Sharing the job
    /// store's connection with it let that close break the job store, the activation channel and the health check.
    /// </summary>
    [Fact]
    public async Task DisposingTheDistributedCache_LeavesTheSharedConnectionOpen()
    {
        await using var api = new RedisFactory();
        await ((Xunit.IAsyncLifetime)api).InitializeAsync();
        using var client = api.CreateClient();
        Assert.Equal(HttpStatusCode.OK, (await client.PostAsJsonAsync("/v1/generate", ApiFactory.Body(seed: 5, tokens: 8))).StatusCode);

        var cache = api.Services.GetRequiredService<IDistributedCache>();
        await cache.SetAsync("ownership-probe", [1, 2, 3]);   // the cache has connected
        ((IDisposable)cache).Dispose();

        Assert.True(api.Services.GetRequiredService<RedisConnection>().IsConnected);
        Assert.Equal("Healthy", await (await client.GetAsync("/readyz")).Content.ReadAsStringAsync());
        Assert.Empty(await api.Services.GetRequiredService<IJobStore>().ListAsync(CancellationToken.None));
    }
}
