using System.Net.Http.Json;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.DependencyInjection;

namespace DetailFlow.Api.Tests;

public sealed class CacheBudgetTests(SmallCacheFactory api) : IClassFixture<SmallCacheFactory>
{
    [Fact]
    public async Task InProcessCache_StaysWithinItsBudget_EvictingTheOldestEntries()
    {
        var memory = (MemoryCache)api.Services.GetRequiredService<IMemoryCache>();
        Assert.NotNull(memory.GetCurrentStatistics());   // tracked, so the size can be read (and exported)
        using var client = api.CreateClient();

        var first = await client.PostAsJsonAsync("/v1/generate", ApiFactory.Body(seed: 900_000));
        Assert.Equal("miss", first.Headers.GetValues("X-Cache").Single());
        long afterOne = memory.GetCurrentStatistics()!.CurrentEstimatedSize!.Value;
        int png = (await first.Content.ReadAsByteArrayAsync()).Length;
        Assert.True(afterOne >= png, $"{afterOne} bytes cached for one image");
        Assert.True(afterOne < png + png / 5, $"{afterOne} bytes cached for a {png}-byte PNG");   // sized by CodeEntrySerializer's form (base64: a third more)

        // Far more seeded images than 1 MiB holds (codes + final PNG + refine result each).
        long perImage = afterOne;
        int images = (int)(3 * (1L << 20) / perImage) + 8;
        for (int s = 1; s < images; s += 8)
            (await client.PostAsJsonAsync("/v1/generate", ApiFactory.Body(seed: 900_000 + s, n: Math.Min(8, images - s)))).EnsureSuccessStatusCode();

        long size = memory.GetCurrentStatistics()!.CurrentEstimatedSize!.Value;
        Assert.True(size <= 1L << 20, $"{size} bytes in a 1 MiB cache after {images} images");
        var again = await client.PostAsJsonAsync("/v1/generate", ApiFactory.Body(seed: 900_000));
        Assert.Equal("miss", again.Headers.GetValues("X-Cache").Single());   // evicted, generated again
        Assert.Equal(await first.Content.ReadAsByteArrayAsync(), await again.Content.ReadAsByteArrayAsync());
    }
}
