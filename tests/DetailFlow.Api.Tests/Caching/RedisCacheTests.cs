using System.Net;
using System.Net.Http.Json;

namespace DetailFlow.Api.Tests;

public sealed class RedisCacheTests(RedisFactory api) : IClassFixture<RedisFactory>
{
    private static Task<string> ReadyStatus(HttpClient client, string want) =>
        Eventually(async () => await (await client.GetAsync("/readyz")).Content.ReadAsStringAsync(), body => body == want,
            TimeSpan.FromSeconds(15), $"/readyz never said {want}");

    [Fact]
    public async Task RedisStoppedMidTest_ServesUncachedAndDegraded_ThenHealthyAfterRestart()
    {
        using var client = api.CreateClient();
        var first = await client.PostAsJsonAsync("/v1/generate", ApiFactory.Body(seed: 31337, tokens: 8));
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal("Healthy", await ReadyStatus(client, "Healthy"));

        api.Redis.Stop();
        Assert.Equal("Degraded", await ReadyStatus(client, "Degraded"));
        var during = await client.PostAsJsonAsync("/v1/generate", ApiFactory.Body(seed: 4711, tokens: 8));
        Assert.Equal(HttpStatusCode.OK, during.StatusCode);
        var again = await client.PostAsJsonAsync("/v1/generate", ApiFactory.Body(seed: 31337, tokens: 8));
        Assert.Equal(await first.Content.ReadAsByteArrayAsync(), await again.Content.ReadAsByteArrayAsync());

        api.Redis.Start();
        Assert.Equal("Healthy", await ReadyStatus(client, "Healthy"));
        Assert.Equal(HttpStatusCode.OK, (await client.PostAsJsonAsync("/v1/generate", ApiFactory.Body(seed: 99, tokens: 8))).StatusCode);
    }
}
