using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using DetailFlow.Api.Batching;
using DetailFlow.Api.Endpoints;
using DetailFlow.Api.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace DetailFlow.Api.Tests;

public sealed class SlowStreamReaderTests(GatedCacheFactory api) : IClassFixture<GatedCacheFactory>
{
    /// <summary>
    /// A's stream is the shared computation (first caller) and its reader stalls: the server's SSE writer pulls the
    /// first preview and then nothing (driven here through the event sequence itself, since a socket's buffers would
    /// swallow the tiny model's previews). B, waiting for the same codes, still gets its image; A later gets the
    /// previews that were kept and the completed event.
    /// </summary>
    [Fact]
    public async Task SharedComputation_FirstStreamStalls_OtherWaiterStillGetsItsImage()
    {
        var model = api.Services.GetRequiredService<ModelState>().Model!;
        var generator = api.Services.GetRequiredService<ImageGenerator>();
        var request = new GenerateRequest { Class = new FlexibleValue(null, 5, false), Seed = 24601, Tokens = 32 };
        var valid = RequestValidator.Validate(request, model, stream: true).Request!;
        var spec = valid.Image with { Cacheable = true };
        var previews = model.Schedule.ValidPrefixes.Where(t => t < 32).ToHashSet();   // more than any small buffer holds
        using var gone = new CancellationTokenSource();
        await using var a = StreamEndpoints.Events(model, spec, previews, generator, new DefaultHttpContext(), gone.Token).GetAsyncEnumerator();
        Assert.True(await a.MoveNextAsync());   // the heartbeat
        var firstPreview = a.MoveNextAsync();   // starts A's work
        await api.Cache.Caller(1);
        using var client = api.CreateClient();
        var b = client.PostAsJsonAsync("/v1/generate", ApiFactory.Body(@class: 5, seed: 24601, tokens: 32));
        await api.Cache.Caller(2);
        api.Cache.Open();
        try
        {
            using var response = await b.WaitAsync(TimeSpan.FromSeconds(60));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("hit", response.Headers.GetValues("X-Cache").Single());   // it waited on A's computation, not its own

            Assert.True(await firstPreview);
            var kinds = new List<string> { a.Current.EventType! };
            while (await a.MoveNextAsync()) kinds.Add(a.Current.EventType!);
            Assert.Equal("completed", kinds.Where(k => k != "heartbeat").Last());
            Assert.True(kinds.Count(k => k == "preview") <= previews.Count);
        }
        finally
        {
            gone.Cancel();
        }
    }
}
