using System.Net.Http.Json;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.Caching.Hybrid;
using Microsoft.Extensions.DependencyInjection;

namespace DetailFlow.Api.Tests;

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
