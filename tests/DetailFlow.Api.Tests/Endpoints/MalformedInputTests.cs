using System.Net;
using System.Net.Http.Json;
using System.Text;

namespace DetailFlow.Api.Tests;

/// <summary>Every malformed request gets a 4xx problem+json, never a 5xx, and the service stays healthy.</summary>
public sealed class MalformedInputTests(ApiFactory api) : IClassFixture<ApiFactory>
{
    private static readonly string[] BadValues =
        ["\"x\"", "-1", "1e400", "[]", "{}", "true", "null", "99999999999999999999", "1.5", "\"\"", "-0.5", "\"NaN\""];

    private static readonly string[] Fields = ["cfg_scale", "temperature", "top_k", "top_p", "tokens", "n", "seed", "response_format", "class"];

    /// <summary>Distinct (path, body) pairs: the generated field/value grid overlaps the hand-written cases.</summary>
    public static IEnumerable<object[]> Cases() => AllCases().DistinctBy(c => (string)c[0] + "\u0001" + (string)c[1]);

    private static IEnumerable<object[]> AllCases()
    {
        string[] raw =
        [
            "", "{", "}", "[", "[]", "null", "42", "\"text\"", "{\"class\":}", "{class: 1}", "{'class': 1}", "{\"class\": 1,}",
            "{\"class\": 1 \"seed\": 2}", "\u0000", "{\"class\": [1]}", "{\"class\": {\"id\": 1}}", "{\"class\": true}", "{\"class\": 1.5}",
            "{\"class\": -3}", "{\"class\": 10}", "{\"class\": \"" + new string('z', 5000) + "\"}", "{\"class\": \"\\ud800\"}",
            "{\"class\": 1, \"tokens\": 0}", "{\"class\": 1, \"tokens\": 33}", "{\"class\": 1, \"tokens\": 6}", "{\"class\": 1, \"n\": 0}",
            "{\"class\": 1, \"n\": -1}", "{\"class\": 1, \"top_k\": 65}", "{\"class\": 1, \"top_p\": 1.5}", "{\"class\": 1, \"cfg_scale\": -2}",
            "{\"class\": 1, \"seed\": -5}", "{\"class\": 1, \"previews\": \"some\"}",
        ];
        foreach (var body in raw)
        {
            if (body.Contains("previews")) { yield return ["/v1/generate/stream", body]; continue; }
            yield return ["/v1/generate", body];
            yield return ["/v1/generate/stream", body];
        }
        foreach (var field in Fields)
            foreach (var value in BadValues.Where(v => !(field == "seed" && v is "null") && !(field is "cfg_scale" or "temperature" or "top_k" or "top_p" or "tokens" or "n" or "response_format" && v is "null")))
            {
                if (field == "class" && value is "1.5" or "\"\"") { yield return ["/v1/generate", $"{{\"class\": {value}}}"]; continue; }
                if (field is "temperature" or "cfg_scale" && value is "1.5" or "99999999999999999999") continue;   // valid values
                if (field == "seed" && value == "1.5") continue;              // numbers only: 1.5 fails to bind, covered elsewhere
                yield return ["/v1/generate", $"{{\"class\": 1, \"{field}\": {value}}}"];
            }
        string[] refine =
        [
            "{}", "{\"codes_id\": \"nope\"}", "{\"codes_id\": 5}", "{\"codes\": \"x\"}", "{\"codes\": [1, 2, 3, 4, 5], \"class\": 1}",
            "{\"codes\": [99], \"class\": 1}", "{\"codes\": [-1], \"class\": 1}", "{\"codes\": [1]}", "{\"codes\": [1], \"class\": 1, \"tokens\": 7}",
            "{\"codes_id\": \"" + new string('a', 100) + "\"}", "{\"codes\": [1], \"class\": 1, \"response_format\": \"jpg\"}",
        ];
        foreach (var body in refine) yield return ["/v1/refine", body];
    }

    public static IEnumerable<object[]> QueryCases() =>
        new[]
        {
            "", "?class=", "?class=99", "?class=unknown", "?class=1&seed=abc", "?class=1&tokens=5", "?class=1&tokens=x", "?class=1&cfg_scale=0",
            "?class=1&top_p=2", "?class=1&top_k=-1", "?class=1&previews=-1", "?class=1&previews=many", "?class=1&temperature=-1",
            "?class=1&seed=-1", "?class=1&cfg_scale=nan",
        }.Select(q => new object[] { q });

    /// <summary>Bodies the OpenAI route must refuse with a 4xx in the OpenAI error shape.</summary>
    public static IEnumerable<object[]> OpenAiCases()
    {
        string[] raw =
        [
            "", "{", "}", "[]", "null", "42", "\"text\"", "{\"prompt\":}", "{prompt: \"owl\"}", "{'prompt': \"owl\"}", "{\"prompt\": \"owl\",}",
            "\u0000", "{}", "{\"prompt\": null}", "{\"prompt\": \"   \"}", "{\"prompt\": [1]}", "{\"prompt\": {}}", "{\"prompt\": true}",
            "{\"prompt\": 3}", "{\"prompt\": \"10\"}", "{\"prompt\": \"-1\"}", "{\"prompt\": \"99999999999999999999999\"}",
            "{\"prompt\": \"\\ud800\"}", "{\"prompt\": \"" + new string('z', 5000) + "\"}", "{\"prompt\": [[[[[[[[[[1]]]]]]]]]]}",
            "{\"prompt\": \"owl\", \"foo\": 1}", "{\"prompt\": \"owl\", \"Prompt\": \"owl\"}", "{\"prompt\": \"owl\", \"class\": 1}",
            "{\"prompt\": \"owl\", \"size\": \"0x0\"}", "{\"prompt\": \"owl\", \"size\": \"99999x99999\"}", "{\"prompt\": \"owl\", \"n\": 0}",
            "{\"prompt\": \"owl\", \"stream\": true, \"partial_images\": 4}", "{\"prompt\": \"owl\", \"output_format\": \"gif\"}",
        ];
        foreach (var body in raw) yield return [body];
        string[] fields = ["n", "size", "quality", "output_format", "output_compression", "response_format", "background", "stream", "partial_images", "seed", "model", "user", "moderation", "style"];
        foreach (var field in fields)
            foreach (var value in BadValues.Where(v => v is not ("null" or "\"NaN\"" or "\"\"")))
            {
                if (field is "user" or "moderation" or "style" && value == "\"x\"") continue;   // accepted and ignored
                if (field == "stream" && value == "true") continue;
                yield return [$"{{\"prompt\": \"owl\", \"{field}\": {value}}}"];
            }
    }

    [Theory]
    [MemberData(nameof(OpenAiCases))]
    public async Task OpenAi_Malformed_Is4xxOpenAiError(string body)
    {
        using var client = api.Client();
        var response = await client.PostAsync("/v1/images/generations", new StringContent(body, Encoding.UTF8, "application/json"));
        await AssertOpenAiError(response);
    }

    [Theory]
    [InlineData("text/plain")]
    [InlineData("application/xml")]
    public async Task OpenAi_WrongContentType_Is415(string contentType)
    {
        using var client = api.Client();
        var response = await client.PostAsync("/v1/images/generations", new StringContent("{\"prompt\": \"owl\"}", Encoding.UTF8, contentType));
        Assert.Equal(HttpStatusCode.UnsupportedMediaType, response.StatusCode);
        await AssertOpenAiError(response);
    }

    [Theory]
    [InlineData("/v1/images/generations")]
    [InlineData("/generate")]
    public async Task NewRoutes_BodyOverLimit_Is413(string path)
    {
        using var client = api.Client();
        var body = "{\"prompt\": \"" + new string('x', 100_000) + "\"}";
        var response = await client.PostAsync(path, new StringContent(body, Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        if (path.Contains("images")) await AssertOpenAiError(response);
    }

    [Theory]
    [InlineData("{\"class\": \"nope\"}")]
    [InlineData("{\"class\": 1, \"n\": \"many\"}")]
    [InlineData("{\"class\": ")]
    [InlineData("class=1")]
    public async Task DesignCardRoute_Malformed_Is4xxProblem(string body)
    {
        using var client = api.Client();
        foreach (var type in new[] { "application/json", "application/x-www-form-urlencoded" })
            await AssertProblem(await client.PostAsync("/generate", new StringContent(body, Encoding.UTF8, type)));
    }

    private static async Task AssertOpenAiError(HttpResponseMessage response)
    {
        string text = await response.Content.ReadAsStringAsync();
        Assert.True((int)response.StatusCode is >= 400 and < 500, $"{(int)response.StatusCode}: {text}");
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        var error = System.Text.Json.JsonDocument.Parse(text).RootElement.GetProperty("error");
        Assert.False(string.IsNullOrEmpty(error.GetProperty("message").GetString()), text);
        Assert.False(string.IsNullOrEmpty(error.GetProperty("type").GetString()), text);
    }

    [Fact]
    public void Suite_HasAtLeast100Cases() => Assert.True(Cases().Count() + QueryCases().Count() >= 100, $"{Cases().Count() + QueryCases().Count()} cases");

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task Post_Malformed_Is4xxProblem(string path, string body)
    {
        using var client = api.Client();
        var response = await client.PostAsync(path, new StringContent(body, Encoding.UTF8, "application/json"));
        await AssertProblem(response);
    }

    [Theory]
    [MemberData(nameof(QueryCases))]
    public async Task Get_MalformedStreamQuery_Is4xxProblem(string query)
    {
        using var client = api.Client();
        await AssertProblem(await client.GetAsync("/v1/generate/stream" + query));
    }

    [Theory]
    [InlineData("text/plain")]
    [InlineData("application/xml")]
    public async Task Post_WrongContentType_Is4xx(string contentType)
    {
        using var client = api.Client();
        var response = await client.PostAsync("/v1/generate", new StringContent("{\"class\": 1}", Encoding.UTF8, contentType));
        Assert.InRange((int)response.StatusCode, 400, 499);
    }

    [Fact]
    public async Task Post_BodyOverLimit_Is413Problem()
    {
        using var client = api.Client();
        var body = "{\"class\": 1, \"pad\": \"" + new string('x', 100_000) + "\"}";
        var response = await client.PostAsync("/v1/generate", new StringContent(body, Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
    }

    [Fact]
    public async Task AfterTheSuite_ServiceIsHealthyAndGenerates()
    {
        using var client = api.Client();
        foreach (var c in Cases().Take(30)) await client.PostAsync((string)c[0], new StringContent((string)c[1], Encoding.UTF8, "application/json"));
        foreach (var c in OpenAiCases().Take(30)) await client.PostAsync("/v1/images/generations", new StringContent((string)c[0], Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/healthz")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.PostAsJsonAsync("/v1/generate", ApiFactory.Body(tokens: 8))).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.PostAsJsonAsync("/v1/images/generations", new { prompt = "owl", size = "8x8" })).StatusCode);
    }

    private static async Task AssertProblem(HttpResponseMessage response)
    {
        string text = await response.Content.ReadAsStringAsync();
        Assert.True((int)response.StatusCode is >= 400 and < 500, $"{(int)response.StatusCode}: {text}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
    }
}
