using System.Net;
using System.Net.Http.Json;

namespace DetailFlow.Api.Tests;

public sealed class QueueTests(SmallQueueFactory api) : IClassFixture<SmallQueueFactory>
{
    [Fact]
    public async Task Generate_MoreImagesThanTheQueueHolds_Returns429WithRetryAfter()
    {
        using var client = api.CreateClient();
        var response = await client.PostAsJsonAsync("/v1/generate", new { @class = 1, n = 8 });   // 8 jobs, room for 2
        Assert.Equal(HttpStatusCode.TooManyRequests, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.True(response.Headers.RetryAfter?.Delta > TimeSpan.Zero);
    }
}
