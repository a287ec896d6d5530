using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

namespace DetailFlow.Api.Tests;

public sealed class ServiceSurfaceTests(ApiFactory api) : IClassFixture<ApiFactory>
{
    [Fact]
    public async Task Refine_ById_ContinuesToMoreTokensAndMatchesDirectGeneration()
    {
        using var client = api.CreateClient();
        var coarse = await client.PostAsJsonAsync("/v1/generate", ApiFactory.Body(seed: 555, tokens: 8));
        string id = coarse.Headers.GetValues("X-Codes-Id").Single();
        var refined = await client.PostAsJsonAsync("/v1/refine", new { codes_id = id, tokens = 24 });
        Assert.Equal(HttpStatusCode.OK, refined.StatusCode);
        Assert.Equal("24", refined.Headers.GetValues("X-Tokens").Single());
        var direct = await client.PostAsJsonAsync("/v1/generate", ApiFactory.Body(seed: 555, tokens: 24));
        Assert.Equal(await direct.Content.ReadAsByteArrayAsync(), await refined.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task OpenApiSwaggerAndMetrics_AreServed()
    {
        using var client = api.CreateClient();
        var doc = await client.GetFromJsonAsync<JsonElement>("/openapi/v1.json");
        Assert.True(doc.GetProperty("paths").TryGetProperty("/v1/generate", out _));
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/swagger/index.html")).StatusCode);
        await client.PostAsJsonAsync("/v1/generate", ApiFactory.Body(tokens: 4));
        string metrics = await client.GetStringAsync("/metrics");
        Assert.Contains("detailflow_requests_total", metrics);
        Assert.Contains("detailflow_step_rows", metrics);
    }
}
