using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

namespace DetailFlow.Api.Tests;

public sealed class RateLimitTests(TightRateLimitFactory api) : IClassFixture<TightRateLimitFactory>
{
    [Fact]
    public async Task Generate_OverTheRateLimit_Returns429Problem()
    {
        using var client = api.CreateClient();
        var statuses = new List<HttpStatusCode>();
        for (int i = 0; i < 3; i++) statuses.Add((await client.PostAsJsonAsync("/v1/generate", ApiFactory.Body(tokens: 4))).StatusCode);
        Assert.Equal([HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.TooManyRequests], statuses);
    }
}
