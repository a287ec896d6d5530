using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

namespace DetailFlow.Api.Tests;

/// <summary>Keys on, two permits a minute: each key has its own window.</summary>
public sealed class ApiKeyRateLimitTests(ApiKeyRateLimitTests.Factory api) : IClassFixture<ApiKeyRateLimitTests.Factory>
{
    public sealed class Factory : ApiFactory
    {
        protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
        {
            ["Auth:ApiKeys:0"] = KeyedApiFactory.Key, ["Auth:ApiKeys:1"] = KeyedApiFactory.OtherKey, ["RateLimitOptions:PermitsPerMinute"] = "2",
        };
    }

    [Fact]
    public async Task EachKey_HasItsOwnWindow()
    {
        using var first = api.Client();
        first.DefaultRequestHeaders.Authorization = new("Bearer", KeyedApiFactory.Key);
        using var second = api.Client();
        second.DefaultRequestHeaders.Add("X-Api-Key", KeyedApiFactory.OtherKey);
        var body = new { prompt = "owl", size = "8x8" };
        for (int i = 0; i < 2; i++) Assert.Equal(HttpStatusCode.OK, (await first.PostAsJsonAsync("/v1/images/generations", body)).StatusCode);
        var limited = await first.PostAsJsonAsync("/v1/images/generations", body);
        Assert.Equal(HttpStatusCode.TooManyRequests, limited.StatusCode);
        Assert.Equal("rate_limit_error", (await limited.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetProperty("type").GetString());
        Assert.Equal(HttpStatusCode.OK, (await second.PostAsJsonAsync("/v1/images/generations", body)).StatusCode);
    }
}
