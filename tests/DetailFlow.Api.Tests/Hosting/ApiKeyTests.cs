using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

namespace DetailFlow.Api.Tests;

/// <summary>With <c>Auth:ApiKeys</c> set: the public API needs a key (either header), the rest stays open, admin keeps its own key.</summary>
public sealed class ApiKeyTests(KeyedApiFactory api) : IClassFixture<KeyedApiFactory>
{
    public static TheoryData<string, string> Routes => new()
    {
        { "POST", "/v1/generate" }, { "POST", "/generate" }, { "POST", "/v1/generate/stream" }, { "GET", "/v1/generate/stream?class=1&previews=0" },
        { "POST", "/v1/refine" }, { "GET", "/v1/refine/stream?codes_id=x" }, { "POST", "/v1/images/generations" },
    };

    private static HttpRequestMessage Request(string method, string path, (string Name, string Value)? header)
    {
        var request = new HttpRequestMessage(new HttpMethod(method), path);
        if (method == "POST") request.Content = JsonContent.Create(path.Contains("images") ? new { prompt = "owl" } : path.Contains("refine") ? new { codes_id = "x" } : (object)new { @class = 1 });
        if (header is { } h) request.Headers.TryAddWithoutValidation(h.Name, h.Value);
        return request;
    }

    [Theory]
    [MemberData(nameof(Routes))]
    public async Task WithoutKey_401_WithEitherHeader_Passes(string method, string path)
    {
        using var client = api.Client();
        foreach (var bad in new (string, string)?[] { null, ("Authorization", "Bearer nope"), ("X-Api-Key", "nope"), ("Authorization", KeyedApiFactory.Key) })
        {
            var response = await client.SendAsync(Request(method, path, bad));
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
            var body = await response.Content.ReadFromJsonAsync<JsonElement>();
            if (path.Contains("images")) Assert.Equal("authentication_error", body.GetProperty("error").GetProperty("type").GetString());
            else Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        }
        foreach (var good in new (string, string)[] { ("Authorization", "Bearer " + KeyedApiFactory.Key), ("X-Api-Key", KeyedApiFactory.OtherKey) })
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            var response = await client.SendAsync(Request(method, path, good), HttpCompletionOption.ResponseHeadersRead, cts.Token);
            Assert.NotEqual(HttpStatusCode.Unauthorized, response.StatusCode);   // 200, or 400/404 for the refine of an unknown id
            Assert.True((int)response.StatusCode < 500, $"{method} {path}: {(int)response.StatusCode}");
        }
    }

    [Theory]
    [InlineData("/healthz")]
    [InlineData("/readyz")]
    [InlineData("/metrics")]
    [InlineData("/")]
    [InlineData("/openapi/v1.json")]
    [InlineData("/v1/models")]
    public async Task OpenRoutes_StayOpen(string path)
    {
        using var client = api.Client();
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync(path)).StatusCode);
    }

    [Fact]
    public async Task Admin_StillNeedsTheAdminKey_NotAnApiKey()
    {
        using var client = api.Client();
        client.DefaultRequestHeaders.Authorization = new("Bearer", KeyedApiFactory.Key);
        Assert.Equal(HttpStatusCode.Unauthorized, (await client.GetAsync("/admin/models")).StatusCode);
        using var admin = api.Client();
        admin.DefaultRequestHeaders.Add("X-Api-Key", AdminFactory.Key);
        Assert.Equal(HttpStatusCode.OK, (await admin.GetAsync("/admin/models")).StatusCode);
    }
}
