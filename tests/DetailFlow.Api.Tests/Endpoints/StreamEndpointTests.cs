using System.Net;
using System.Net.Http.Json;
using System.Net.ServerSentEvents;
using System.Text.Json;
using DetailFlow.Api.Batching;
using Microsoft.Extensions.DependencyInjection;

namespace DetailFlow.Api.Tests;

public sealed class StreamEndpointTests(ApiFactory api) : IClassFixture<ApiFactory>
{
    private static async Task<List<SseItem<string>>> ReadAll(HttpResponseMessage response)
    {
        var items = new List<SseItem<string>>();
        await foreach (var item in SseParser.Create(await response.Content.ReadAsStreamAsync()).EnumerateAsync()) items.Add(item);
        return items;
    }

    [Fact]
    public async Task Stream_AllPreviews_NonDecreasingResolutionThenCompleted()
    {
        using var client = api.Client();
        using var response = await client.PostAsJsonAsync("/v1/generate/stream", new { @class = 3, seed = 5, previews = "all" });
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        var items = (await ReadAll(response)).Where(i => i.EventType != "heartbeat").ToList();
        var previews = items.Where(i => i.EventType == "preview").Select(i => JsonDocument.Parse(i.Data).RootElement).ToList();
        Assert.True(previews.Count >= 3, $"{previews.Count} previews");
        var resolutions = previews.Select(p => p.GetProperty("resolution").GetInt32()).ToList();
        Assert.Equal(resolutions.Order(), resolutions);
        foreach (var p in previews)
        {
            var (w, _) = PngInfo.Size(Convert.FromBase64String(p.GetProperty("png_b64").GetString()!));
            Assert.Equal(p.GetProperty("resolution").GetInt32(), w);
        }
        Assert.Equal("completed", items[^1].EventType);
        var done = JsonDocument.Parse(items[^1].Data).RootElement;
        Assert.Equal(32, done.GetProperty("tokens").GetInt32());
    }

    [Fact]
    public async Task StreamGet_ForEventSource_DefaultPreviewsThenCompleted()
    {
        using var client = api.Client();
        using var response = await client.GetAsync("/v1/generate/stream?class=goldfish&seed=9&tokens=24", HttpCompletionOption.ResponseHeadersRead);
        var items = (await ReadAll(response)).Where(i => i.EventType != "heartbeat").ToList();
        Assert.True(items.Count(i => i.EventType == "preview") >= 3);
        Assert.Equal("completed", items[^1].EventType);
    }

    [Fact]
    public async Task Stream_InvalidRequest_Is400ProblemBeforeStreaming()
    {
        using var client = api.Client();
        var response = await client.GetAsync("/v1/generate/stream?class=nope");
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task Stream_ClientDisconnects_RequestIsFreed()
    {
        var batcher = api.Services.GetRequiredService<Batcher>();
        using (var client = api.Client())
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/generate/stream") { Content = JsonContent.Create(new { @class = 1, previews = "all" }) };
            using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
            await using var stream = await response.Content.ReadAsStreamAsync();
            await foreach (var item in SseParser.Create(stream).EnumerateAsync())
                if (item.EventType == "preview") break;   // walk away after the first preview, without reading the rest
        }
        await Eventually(() => batcher.Outstanding, n => n == 0, TimeSpan.FromSeconds(10), "jobs still outstanding");
        using var again = api.CreateClient();
        Assert.Equal(HttpStatusCode.OK, (await again.PostAsJsonAsync("/v1/generate", ApiFactory.Body(tokens: 4))).StatusCode);
    }

    [Fact]
    public async Task RefineStream_ById_PreviewsOnlyTheAddedDetailAndMatchesDirectGeneration()
    {
        using var client = api.Client();
        var coarse = await client.PostAsJsonAsync("/v1/generate", ApiFactory.Body(seed: 8080, tokens: 8));
        string id = coarse.Headers.GetValues("X-Codes-Id").Single();
        using var response = await client.GetAsync($"/v1/refine/stream?codes_id={id}&tokens=24&previews=all", HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        var items = (await ReadAll(response)).Where(i => i.EventType != "heartbeat").ToList();
        var previewTokens = items.Where(i => i.EventType == "preview")
            .Select(i => JsonDocument.Parse(i.Data).RootElement.GetProperty("tokens").GetInt32()).ToList();
        Assert.Equal([12, 16, 20], previewTokens);
        Assert.Equal("completed", items[^1].EventType);
        var done = JsonDocument.Parse(items[^1].Data).RootElement;
        Assert.Equal(24, done.GetProperty("tokens").GetInt32());
        Assert.NotEqual(id, done.GetProperty("codes_id").GetString());
        var direct = await client.PostAsJsonAsync("/v1/generate", ApiFactory.Body(seed: 8080, tokens: 24));
        Assert.Equal(await direct.Content.ReadAsByteArrayAsync(), Convert.FromBase64String(done.GetProperty("png_b64").GetString()!));
    }

    [Theory]
    [InlineData("/v1/refine/stream?codes_id=nope&tokens=24", "codes_id")]
    [InlineData("/v1/refine/stream?tokens=24", "codes_id")]
    [InlineData("/v1/refine/stream?codes_id=nope&tokens=5", "tokens")]
    public async Task RefineStream_InvalidQuery_Is400ProblemNamingTheField(string url, string field)
    {
        using var client = api.Client();
        var response = await client.GetAsync(url);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), problem.ToString());
    }
}
