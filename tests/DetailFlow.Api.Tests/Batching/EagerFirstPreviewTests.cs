using System.Globalization;
using DetailFlow.Api.Batching;
using DetailFlow.Core.Generation;
using Microsoft.Extensions.DependencyInjection;

namespace DetailFlow.Api.Tests;

/// <summary>A stream that joins a batch feeding groups: its codes up to its first preview come from steps of its own.</summary>
[Collection(MetricsCollection.Name)]   // the eager-step counter is read from /metrics, which sees every server's meter in the process
public sealed class EagerFirstPreviewTests(EagerPreviewFactory eager, RidingPreviewFactory riding)
    : IClassFixture<EagerPreviewFactory>, IClassFixture<RidingPreviewFactory>
{
    private const string Counter = "detailflow_step_eager_total", Steps = "detailflow_step_rows_count";

    [Fact]
    public async Task AStreamJoiningAContinuation_DrawsTheCodesOfItsFirstPreviewInStepsOfItsOwn()
    {
        var (steps, stream, plain) = await JoinABatchInItsGroups(eager);
        Assert.Equal(3, steps);   // its first preview is at 3 codes: 3 steps apart, then it rides along
        var (_, ridingStream, ridingPlain) = await JoinABatchInItsGroups(riding);
        Assert.Equal(ridingStream, stream);   // its codes do not depend on how its steps were grouped
        Assert.Equal(ridingPlain, plain);
    }

    [Fact]
    public async Task WithEagerFirstPreviewsOff_NoStepRunsApart()
    {
        var (steps, _, _) = await JoinABatchInItsGroups(riding);
        Assert.Equal(0, steps);
    }

    /// <summary>
    /// A continuation of 8 known codes (its first step feeds them all) and a stream with previews at 3, 8 and 16 codes
    /// submitted while the steps are held; returns the eager steps counted and both jobs' codes.
    /// </summary>
    private static async Task<(double Steps, long[] Stream, long[] Plain)> JoinABatchInItsGroups(EagerPreviewFactory api)
    {
        using var client = api.CreateClient();
        var batcher = api.Services.GetRequiredService<Batcher>();
        string start = await client.GetStringAsync("/metrics");
        double before = Value(start), stepsBefore = Value(start, Steps);
        var plain = new InferenceJob
        {
            Spec = new ImageSpec(1, new SamplingOptions { Seed = 7101, CfgScale = 2.0 }, 32, Cacheable: false), Known = [.. Enumerable.Range(3, 8).Select(c => (long)c)],
        };
        var previews = new List<int>();
        var stream = new InferenceJob
        {
            Spec = new ImageSpec(2, new SamplingOptions { Seed = 7102, CfgScale = 2.0 }, 32, Cacheable: false),
            PreviewTokens = new HashSet<int> { 3, 8, 16 }, OnPreview = p => { lock (previews) previews.Add(p.Tokens); },
        };
        api.Gate.Close();
        try
        {
            Assert.True(batcher.TrySubmit(plain));
            Assert.True(batcher.TrySubmit(stream));
        }
        finally
        {
            api.Gate.Open();
        }
        var results = await Task.WhenAll(plain.Result.Task, stream.Result.Task).WaitAsync(TimeSpan.FromSeconds(60));
        Assert.Equal([3, 8, 16], previews);
        // The exporter caches a scrape for a moment: wait for one that counts the stream's 11 steps (4 causal codes, 7 groups).
        string after = await Eventually(() => client.GetStringAsync("/metrics"), m => Value(m, Steps) >= stepsBefore + 11,
            TimeSpan.FromSeconds(30), "/metrics never counted the steps");
        return (Value(after) - before, results[1].Codes, results[0].Codes);
    }

    private static double Value(string metrics, string name = Counter) => metrics.Split('\n')
        .Where(l => l.StartsWith(name + "{", StringComparison.Ordinal) && l.Contains("otel_scope_name=\"DetailFlow.Api\""))
        .Sum(l => double.Parse(l[(l.IndexOf('}') + 2)..].Split(' ')[0], CultureInfo.InvariantCulture));
}
