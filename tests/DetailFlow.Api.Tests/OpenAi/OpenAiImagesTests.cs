using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

namespace DetailFlow.Api.Tests;

/// <summary><c>POST /v1/images/generations</c> over HTTP: the mapping onto the schedule, formats, refusals and the SSE framing.</summary>
public sealed class OpenAiImagesTests(ApiFactory api) : IClassFixture<ApiFactory>
{
    private const string Route = "/v1/images/generations";

    private async Task<(HttpStatusCode Status, JsonElement Body)> PostAsync(object body)
    {
        using var client = api.Client();
        var response = await client.PostAsJsonAsync(Route, body);
        return (response.StatusCode, await response.Content.ReadFromJsonAsync<JsonElement>());
    }

    private static byte[] Image(JsonElement body, int i = 0) => Convert.FromBase64String(body.GetProperty("data")[i].GetProperty("b64_json").GetString()!);

    [Theory]
    [InlineData("auto", "auto", 32, 32)]
    [InlineData("16x16", "auto", 16, 12)]       // a smaller size is a coarser prefix: the best prefix for 16 px
    [InlineData("8x8", "high", 8, 4)]
    [InlineData("auto", "medium", 20, 16)]      // medium: the longest prefix of at most N/2 tokens
    [InlineData("auto", "low", 12, 8)]          // low: of at most N/4
    [InlineData("32x32", "low", 12, 8)]         // the coarser of the two wins
    public async Task SizeAndQuality_PickAPrefixOfTheSchedule(string size, string quality, int side, int tokens)
    {
        var (status, body) = await PostAsync(new { prompt = "hen", size, quality, seed = 5 });
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal($"{side}x{side} {tokens}", $"{body.GetProperty("size").GetString()} {body.GetProperty("usage").GetProperty("output_tokens").GetInt32()}");
        Assert.Equal((side, side), PngInfo.Size(Image(body)));
    }

    [Fact]
    public async Task SmallerSize_IsThePrefixOfTheFullImage_NotAResize()
    {
        using var client = api.Client();
        var coarse = await client.PostAsJsonAsync("/v1/generate", new { @class = "jay", seed = 77, tokens = 12 });
        var (_, body) = await PostAsync(new { prompt = "jay", size = "16x16", seed = 77 });
        Assert.Equal(await coarse.Content.ReadAsByteArrayAsync(), Image(body));
    }

    [Theory]
    [InlineData("  Goldfish ", 1)]
    [InlineData("7", 7)]
    public async Task Prompt_LabelOrDigits_PicksTheClass(string prompt, int classId)
    {
        using var client = api.Client();
        var native = await client.PostAsJsonAsync("/v1/generate", new { @class = classId, seed = 9 });
        var (_, body) = await PostAsync(new { prompt, seed = 9 });
        Assert.Equal(await native.Content.ReadAsByteArrayAsync(), Image(body));
    }

    [Theory]
    [InlineData("jpeg", new byte[] { 0xFF, 0xD8, 0xFF })]
    [InlineData("webp", new byte[] { (byte)'R', (byte)'I', (byte)'F', (byte)'F' })]
    public async Task OutputFormat_JpegAndWebp(string format, byte[] magic)
    {
        var (status, body) = await PostAsync(new { prompt = "owl", output_format = format, output_compression = 80 });
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(magic, Image(body)[..magic.Length]);
        Assert.Equal(format, body.GetProperty("output_format").GetString());
    }

    [Fact]
    public async Task IgnoredFields_AreAccepted()
    {
        var (status, _) = await PostAsync(new { prompt = "owl", user = "u-1", moderation = "low", style = "vivid", background = "opaque", response_format = "b64_json" });
        Assert.Equal(HttpStatusCode.OK, status);
    }

    [Theory]
    [InlineData("{\"prompt\": \"owl\", \"response_format\": \"url\"}", 400, "response_format")]
    [InlineData("{\"prompt\": \"owl\", \"background\": \"transparent\"}", 400, "background")]
    [InlineData("{\"prompt\": \"owl\", \"colour\": \"red\"}", 400, "colour")]
    [InlineData("{\"prompt\": \"owl\", \"n\": \"2\"}", 400, "n")]
    [InlineData("{\"prompt\": \"owl\", \"size\": \"24x32\"}", 400, "size")]
    [InlineData("{\"prompt\": \"owl\", \"quality\": \"hd\"}", 400, "quality")]
    [InlineData("{\"prompt\": \"owl\", \"model\": \"dall-e-2\"}", 404, "model")]
    [InlineData("{\"prompt\": 12}", 400, "prompt")]
    public async Task Refusals_UseTheOpenAiErrorShape(string json, int status, string param)
    {
        using var client = api.Client();
        var response = await client.PostAsync(Route, new StringContent(json, System.Text.Encoding.UTF8, "application/json"));
        Assert.Equal(status, (int)response.StatusCode);
        var error = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error");
        Assert.Equal(param, error.GetProperty("param").GetString());
        Assert.Equal("invalid_request_error", error.GetProperty("type").GetString());
        Assert.False(string.IsNullOrEmpty(error.GetProperty("message").GetString()));
    }

    [Fact]
    public async Task Stream_IsChosenByTheBody_NotByAccept()
    {
        using var client = api.Client();
        using var request = new HttpRequestMessage(HttpMethod.Post, Route) { Content = JsonContent.Create(new { prompt = "owl" }) };
        request.Headers.Accept.ParseAdd("text/event-stream");
        var response = await client.SendAsync(request);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);

        var streamed = await client.PostAsJsonAsync(Route, new { prompt = "owl", stream = true, partial_images = 3, seed = 2 });
        Assert.Equal("text/event-stream", streamed.Content.Headers.ContentType?.MediaType);
        var events = new List<(string Type, JsonElement Data)>();
        await foreach (var item in System.Net.ServerSentEvents.SseParser.Create(await streamed.Content.ReadAsStreamAsync()).EnumerateAsync())
            events.Add((item.EventType, JsonDocument.Parse(item.Data).RootElement));
        Assert.Equal(["image_generation.partial_image", "image_generation.partial_image", "image_generation.partial_image", "image_generation.completed"],
            events.Select(e => e.Type));
        Assert.All(events, e => Assert.Equal(e.Type, e.Data.GetProperty("type").GetString()));
        var widths = events.Select(e => PngInfo.Size(Convert.FromBase64String(e.Data.GetProperty("b64_json").GetString()!)).Width).ToArray();
        Assert.Equal(widths.Order(), widths);   // coarsest first
        Assert.Equal(32, events[^1].Data.GetProperty("usage").GetProperty("output_tokens").GetInt32());
    }

    [Fact]
    public async Task Models_OpenAiListShape_KeepsTheDetailFlowFields()
    {
        using var client = api.Client();
        var list = await client.GetFromJsonAsync<JsonElement>("/v1/models");
        Assert.Equal("list", list.GetProperty("object").GetString());
        var m = list.GetProperty("data")[0];
        Assert.Equal("model", m.GetProperty("object").GetString());
        Assert.True(m.GetProperty("created").GetInt64() > 0);
        Assert.Equal("detailflow", m.GetProperty("owned_by").GetString());
        Assert.Equal("fp32", m.GetProperty("dtype").GetString());
        foreach (var field in new[] { "id", "fingerprint", "labels", "schedule", "defaults", "max_tokens", "num_classes" })
            Assert.True(m.TryGetProperty(field, out _), field);
    }

    [Fact]
    public async Task DesignCardRoute_AnswersAsV1Generate_AndBothAreDocumented()
    {
        using var client = api.Client();
        var v1 = await client.PostAsJsonAsync("/v1/generate", new { @class = "newt", seed = 31 });
        // curl -d labels the JSON as a form; the route still reads it.
        var card = await client.PostAsync("/generate", new StringContent("{\"class\":\"newt\",\"seed\":31}", System.Text.Encoding.UTF8, "application/x-www-form-urlencoded"));
        Assert.Equal(HttpStatusCode.OK, card.StatusCode);
        Assert.Equal("image/png", card.Content.Headers.ContentType?.MediaType);
        Assert.Equal(await v1.Content.ReadAsByteArrayAsync(), await card.Content.ReadAsByteArrayAsync());
        var paths = (await client.GetFromJsonAsync<JsonElement>("/openapi/v1.json")).GetProperty("paths");
        foreach (var path in new[] { "/generate", "/v1/generate", "/v1/images/generations" })
            Assert.True(paths.TryGetProperty(path, out var item) && item.TryGetProperty("post", out _), path);
    }
}
