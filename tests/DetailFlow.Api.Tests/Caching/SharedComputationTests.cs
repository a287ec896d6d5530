using System.Net;
using System.Net.Http.Json;
using DetailFlow.Api.Batching;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.Caching.Hybrid;
using Microsoft.Extensions.DependencyInjection;

namespace DetailFlow.Api.Tests;

public sealed class SharedComputationTests(GatedCacheFactory api) : IClassFixture<GatedCacheFactory>
{
    [Fact]
    public async Task IdenticalRequests_FirstCallerDisconnects_OthersStillGetTheImage()
    {
        var body = ApiFactory.Body(@class: 6, seed: 31337, tokens: 32);
        // A streams (its computation is the shared one: the first caller's factory runs) and B waits for the same codes.
        var a = api.Client();
        var request = new HttpRequestMessage(HttpMethod.Post, "/v1/generate/stream") { Content = JsonContent.Create(new { @class = 6, seed = 31337, tokens = 32, previews = "all" }) };
        var aResponse = await a.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        var aToken = await api.Cache.Caller(1);
        using var b = api.CreateClient();
        var bResponse = b.PostAsJsonAsync("/v1/generate", body);
        await api.Cache.Caller(2);

        aResponse.Dispose();   // A walks away before the shared work has started
        a.Dispose();
        await Eventually(() => aToken.IsCancellationRequested, TimeSpan.FromSeconds(30), "the server never saw the first caller disconnect");
        api.Cache.Open();

        using var response = await bResponse;
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("image/png", response.Content.Headers.ContentType?.MediaType);
        using var again = await b.PostAsJsonAsync("/v1/generate", body);
        Assert.Equal("hit", again.Headers.GetValues("X-Cache").Single());
        Assert.Equal(await response.Content.ReadAsByteArrayAsync(), await again.Content.ReadAsByteArrayAsync());
        var batcher = api.Services.GetRequiredService<Batcher>();
        await Eventually(() => batcher.Outstanding, n => n == 0, TimeSpan.FromSeconds(10), "jobs still outstanding");
    }
}
