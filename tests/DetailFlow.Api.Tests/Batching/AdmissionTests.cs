using System.Net;
using System.Net.Http.Json;
using DetailFlow.Api.Batching;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;

namespace DetailFlow.Api.Tests;

public sealed class AdmissionTests(GatedSmallQueueFactory api) : IClassFixture<GatedSmallQueueFactory>
{
    private Batcher Batcher => api.Services.GetRequiredService<Batcher>();

    [Fact]
    public async Task Generate_MoreImagesThanTheRoomLeft_RefusedAtOnceWithoutRunningAny()
    {
        using var client = api.CreateClient();
        await Eventually(() => Batcher.Outstanding == 0, TimeSpan.FromSeconds(30), "an earlier job never finished");
        api.Gate.Close();
        try
        {
            var first = client.PostAsJsonAsync("/v1/generate", ApiFactory.Body(seed: 7001, tokens: 32));
            await Eventually(() => Batcher.Outstanding == 1, TimeSpan.FromSeconds(30), "the first request never reached the queue");

            // One place left, two images asked: refused as a unit, while the first job is still held.
            using var refused = await client.PostAsJsonAsync("/v1/generate", ApiFactory.Body(seed: 7002, n: 2, tokens: 32))
                .WaitAsync(TimeSpan.FromSeconds(30));
            Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
            Assert.True(refused.Headers.RetryAfter?.Delta > TimeSpan.Zero);
            Assert.Equal(1, Batcher.Outstanding);

            api.Gate.Open();
            using var response = await first;
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }
        finally
        {
            api.Gate.Open();
        }
    }

    [Fact]
    public async Task Generate_CachedCodesWhileTheQueueIsFull_AnsweredWithoutTheQueue()
    {
        using var client = api.CreateClient();
        (await client.PostAsJsonAsync("/v1/generate", ApiFactory.Body(seed: 7101, tokens: 32))).EnsureSuccessStatusCode();
        await Eventually(() => Batcher.Outstanding == 0, TimeSpan.FromSeconds(30), "an earlier job never finished");
        api.Gate.Close();
        try
        {
            var held = client.PostAsJsonAsync("/v1/generate", ApiFactory.Body(seed: 7102, n: 2, tokens: 32));
            await Eventually(() => Batcher.Outstanding == 2, TimeSpan.FromSeconds(30), "the two held images never filled the queue");
            using var full = await client.PostAsJsonAsync("/v1/generate", ApiFactory.Body(seed: 7200, tokens: 32));
            Assert.Equal(HttpStatusCode.TooManyRequests, full.StatusCode);

            // Its codes are cached (at 32), its image at 16 is not: decoded only, with the queue full and the steps held.
            using var hit = await client.PostAsJsonAsync("/v1/generate", ApiFactory.Body(seed: 7101, tokens: 16))
                .WaitAsync(TimeSpan.FromSeconds(30));
            Assert.Equal(HttpStatusCode.OK, hit.StatusCode);
            Assert.Equal("hit", hit.Headers.GetValues("X-Cache").Single());

            api.Gate.Open();
            using var response = await held;
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }
        finally
        {
            api.Gate.Open();
        }
    }
}
