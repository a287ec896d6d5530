using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

namespace DetailFlow.Api.Tests;

public sealed class GenerateEndpointTests(ApiFactory api) : IClassFixture<ApiFactory>
{
    [Fact]
    public async Task Generate_Png_HasScheduledSizeAndHeaders()
    {
        using var client = api.CreateClient();
        var response = await client.PostAsJsonAsync("/v1/generate", ApiFactory.Body(seed: 11, tokens: 12));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("image/png", response.Content.Headers.ContentType?.MediaType);
        var models = await client.GetFromJsonAsync<JsonElement>("/v1/models");
        int expected = models.GetProperty("data")[0].GetProperty("schedule").EnumerateArray()
            .Single(e => e.GetProperty("tokens").GetInt32() == 12).GetProperty("resolution").GetInt32();
        var (w, h) = PngInfo.Size(await response.Content.ReadAsByteArrayAsync());
        Assert.Equal((expected, expected), (w, h));
        Assert.Equal("11", response.Headers.GetValues("X-Seed").Single());
        Assert.Equal("12", response.Headers.GetValues("X-Tokens").Single());
    }

    [Fact]
    public async Task Generate_SameSeedTwice_IdenticalPngAndSecondIsCacheHit()
    {
        using var client = api.CreateClient();
        var first = await client.PostAsJsonAsync("/v1/generate", ApiFactory.Body(@class: "shark", seed: 4242));
        var second = await client.PostAsJsonAsync("/v1/generate", ApiFactory.Body(@class: 2, seed: 4242));
        Assert.Equal("miss", first.Headers.GetValues("X-Cache").Single());
        Assert.Equal("hit", second.Headers.GetValues("X-Cache").Single());
        Assert.Equal(await first.Content.ReadAsByteArrayAsync(), await second.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task Generate_LowerTokensForCachedSeed_ServedFromCacheAtLowerResolution()
    {
        using var client = api.CreateClient();
        var full = await client.PostAsJsonAsync("/v1/generate", ApiFactory.Body(seed: 777, tokens: 32));
        Assert.Equal(HttpStatusCode.OK, full.StatusCode);
        var low = await client.PostAsJsonAsync("/v1/generate", ApiFactory.Body(seed: 777, tokens: 4));
        Assert.Equal("hit", low.Headers.GetValues("X-Cache").Single());
        var (w, _) = PngInfo.Size(await low.Content.ReadAsByteArrayAsync());
        var (fw, _) = PngInfo.Size(await full.Content.ReadAsByteArrayAsync());
        Assert.True(w < fw, $"a 4-code prefix should decode smaller than 32 codes ({w} vs {fw})");
    }

    [Fact]
    public async Task Generate_NImagesAsJson_ReturnsSeedsAndCodesIds()
    {
        using var client = api.CreateClient();
        var response = await client.PostAsJsonAsync("/v1/generate", ApiFactory.Body(seed: 100, n: 3, tokens: 8));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        var images = body.GetProperty("images").EnumerateArray().ToArray();
        Assert.Equal([100L, 101L, 102L], images.Select(i => i.GetProperty("seed").GetInt64()));
        foreach (var image in images)
        {
            PngInfo.Size(Convert.FromBase64String(image.GetProperty("b64_json").GetString()!));
            Assert.False(string.IsNullOrEmpty(image.GetProperty("codes_id").GetString()));
        }
    }

    [Theory]
    [InlineData("{\"class\": \"no-such-label\"}", "class")]
    [InlineData("{\"class\": 99}", "class")]
    [InlineData("{\"class\": 1, \"tokens\": 5}", "tokens")]
    [InlineData("{\"class\": 1, \"cfg_scale\": 0.5}", "cfg_scale")]
    [InlineData("{\"class\": 1, \"top_p\": 0}", "top_p")]
    [InlineData("{\"class\": 1, \"top_k\": 0}", "top_k")]
    [InlineData("{\"class\": 1, \"temperature\": -1}", "temperature")]
    [InlineData("{\"class\": 1, \"n\": 9}", "n")]
    [InlineData("{\"class\": 1, \"response_format\": \"gif\"}", "response_format")]
    [InlineData("{}", "class")]
    public async Task Generate_InvalidField_Returns400NamingTheField(string json, string field)
    {
        using var client = api.CreateClient();
        var response = await client.PostAsync("/v1/generate", new StringContent(json, System.Text.Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), problem.ToString());
    }

    [Fact]
    public async Task Models_ListsScheduleLabelsAndDefaults()
    {
        using var client = api.CreateClient();
        var m = (await client.GetFromJsonAsync<JsonElement>("/v1/models")).GetProperty("data")[0];
        Assert.Equal(10, m.GetProperty("num_classes").GetInt32());
        Assert.Equal("shark", m.GetProperty("labels")[2].GetString());
        var tokens = m.GetProperty("schedule").EnumerateArray().Select(e => e.GetProperty("tokens").GetInt32()).ToArray();
        Assert.Equal([1, 2, 3, 4, 8, 12, 16, 20, 24, 28, 32], tokens);
        Assert.Equal(32, m.GetProperty("defaults").GetProperty("tokens").GetInt32());
    }

    [Fact]
    public async Task Health_LiveAndReady()
    {
        using var client = api.CreateClient();
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/healthz")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/readyz")).StatusCode);
    }
}
