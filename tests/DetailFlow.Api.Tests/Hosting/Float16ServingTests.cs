using System.Net;
using System.Net.Http.Json;
using System.Net.ServerSentEvents;
using System.Text.Json;
using DetailFlow.Api.Hosting;
using Microsoft.Extensions.DependencyInjection;

namespace DetailFlow.Api.Tests;

public sealed class Float16ServingTests(Float16Factory api) : IClassFixture<Float16Factory>
{
    [Fact]
    public async Task Float16_GeneratesStreamsAndCaches_AtTheScheduledSizes()
    {
        var model = api.Services.GetRequiredService<ModelState>().Model!;
        Assert.Equal(TorchSharp.torch.ScalarType.Float16, model.Gpt.DType);
        using var client = api.Client();

        var first = await client.PostAsJsonAsync("/v1/generate", ApiFactory.Body(seed: 1616));
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        var png = await first.Content.ReadAsByteArrayAsync();
        int size = model.Schedule.Resolution(model.MaxTokens);
        Assert.Equal((size, size), PngInfo.Size(png));
        var second = await client.PostAsJsonAsync("/v1/generate", ApiFactory.Body(seed: 1616));
        Assert.Equal("hit", second.Headers.GetValues("X-Cache").Single());
        Assert.Equal(png, await second.Content.ReadAsByteArrayAsync());

        using var stream = await client.PostAsJsonAsync("/v1/generate/stream", new { @class = 2, seed = 1617, previews = "all" });
        var items = new List<SseItem<string>>();
        await foreach (var item in SseParser.Create(await stream.Content.ReadAsStreamAsync()).EnumerateAsync())
            if (item.EventType != "heartbeat") items.Add(item);
        var previews = items.Where(i => i.EventType == "preview").Select(i => JsonDocument.Parse(i.Data).RootElement).ToList();
        Assert.Equal(model.Schedule.ValidPrefixes.Count(t => t < model.MaxTokens), previews.Count);
        foreach (var p in previews)
            Assert.Equal(p.GetProperty("resolution").GetInt32(), PngInfo.Size(Convert.FromBase64String(p.GetProperty("png_b64").GetString()!)).Width);
        Assert.Equal("completed", items[^1].EventType);
    }
}
