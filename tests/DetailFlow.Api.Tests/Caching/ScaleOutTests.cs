using Xunit.Abstractions;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

namespace DetailFlow.Api.Tests;

/// <summary>Two replicas (separate processes, different ports) sharing one redis-server.</summary>
public sealed class ScaleOutTests(ReplicaSet replicas) : IClassFixture<ReplicaSet>
{
    [Fact]
    public async Task SeededResultGeneratedOnA_IsACacheHitOnB_AndRefinableThere()
    {
        using var a = replicas.A.Client();
        using var b = replicas.B.Client();
        var onA = await a.PostAsJsonAsync("/v1/generate", ApiFactory.Body(@class: "owl", seed: 90210, tokens: 16));
        Assert.Equal(HttpStatusCode.OK, onA.StatusCode);
        Assert.Equal("miss", onA.Headers.GetValues("X-Cache").Single());

        var onB = await b.PostAsJsonAsync("/v1/generate", ApiFactory.Body(@class: "owl", seed: 90210, tokens: 16));
        Assert.Equal(HttpStatusCode.OK, onB.StatusCode);
        Assert.Equal("hit", onB.Headers.GetValues("X-Cache").Single());
        Assert.Equal(await onA.Content.ReadAsByteArrayAsync(), await onB.Content.ReadAsByteArrayAsync());

        // A's result id is known to B (shared store), and B continues it to more detail.
        string id = onA.Headers.GetValues("X-Codes-Id").Single();
        var refined = await b.PostAsJsonAsync("/v1/refine", new { codes_id = id, tokens = 32 });
        Assert.Equal(HttpStatusCode.OK, refined.StatusCode);
        Assert.Equal((32, 32), PngInfo.Size(await refined.Content.ReadAsByteArrayAsync()));

        // Control: a seed nobody generated is a miss on B.
        var fresh = await b.PostAsJsonAsync("/v1/generate", ApiFactory.Body(@class: "owl", seed: 90211, tokens: 16));
        Assert.Equal("miss", fresh.Headers.GetValues("X-Cache").Single());
    }
}
