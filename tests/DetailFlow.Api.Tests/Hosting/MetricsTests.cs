using System.Globalization;
using System.Net.Http.Json;
using DetailFlow.Api.Batching;
using DetailFlow.Api.Hosting;
using DetailFlow.Core.Generation;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;

namespace DetailFlow.Api.Tests;

[Collection(MetricsCollection.Name)]
public sealed class MetricsTests(MetricsFactory api) : IClassFixture<MetricsFactory>
{
    private const string Scope = "otel_scope_name=\"DetailFlow.Api\"";

    /// <summary>Sum of a metric's samples in the Prometheus text (0 when absent), optionally only those with a label.</summary>
    private static double Value(string metrics, string name, string? label = null) => metrics.Split('\n')
        .Where(l => l.StartsWith(name + "{", StringComparison.Ordinal) && l.Contains(Scope) && (label is null || l.Contains(label)))
        .Sum(l => double.Parse(l[(l.IndexOf('}') + 2)..].Split(' ')[0], CultureInfo.InvariantCulture));

    /// <summary>Scrapes until <paramref name="done"/> holds (the exporter caches a scrape for a moment), generously.</summary>
    private static Task<string> ScrapeUntil(HttpClient client, Func<string, bool> done) =>
        Eventually(() => client.GetStringAsync("/metrics"), done, TimeSpan.FromSeconds(30), "/metrics never reached the expected state",
            metrics => string.Join('\n', metrics.Split('\n').Where(l => l.StartsWith("detailflow"))));

    [Fact]
    public async Task Metrics_MissThenHit_CountersAndStepHistogramsAdvance()
    {
        using var client = api.CreateClient();
        string before = await client.GetStringAsync("/metrics");
        double misses = Value(before, "detailflow_cache_misses_total"), hits = Value(before, "detailflow_cache_hits_total");
        double steps = Value(before, "detailflow_step_rows_count"), rows = Value(before, "detailflow_step_rows_sum");
        double stepTime = Value(before, "detailflow_step_duration_seconds_sum"), ok = Value(before, "detailflow_requests_total", "outcome=\"ok\"");
        double decodes = Value(before, "detailflow_decode_duration_seconds_count");
        double waits = Value(before, "detailflow_queue_wait_seconds_count");

        var first = await client.PostAsJsonAsync("/v1/generate", ApiFactory.Body(seed: 60606, tokens: 32));
        var second = await client.PostAsJsonAsync("/v1/generate", ApiFactory.Body(seed: 60606, tokens: 32));
        Assert.Equal(["miss", "hit"], new[] { first, second }.Select(r => r.Headers.GetValues("X-Cache").Single()));

        string after = await ScrapeUntil(client, m => Value(m, "detailflow_cache_hits_total") >= hits + 1);
        Assert.Equal(misses + 1, Value(after, "detailflow_cache_misses_total"));
        Assert.Equal(hits + 1, Value(after, "detailflow_cache_hits_total"));
        Assert.Equal(ok + 2, Value(after, "detailflow_requests_total", "outcome=\"ok\""));
        double newSteps = Value(after, "detailflow_step_rows_count") - steps;
        Assert.True(newSteps >= 8, $"{newSteps} steps for 32 codes (C = 4 one by one, then groups of 4)");
        // One guided request alone: every step carries its conditional and its unconditional row.
        Assert.Equal(2.0, (Value(after, "detailflow_step_rows_sum") - rows) / newSteps);
        Assert.True(Value(after, "detailflow_step_duration_seconds_sum") > stepTime);
        Assert.Equal(newSteps, Value(after, "detailflow_step_duration_seconds_count") - Value(before, "detailflow_step_duration_seconds_count"));
        Assert.Equal(decodes + 1, Value(after, "detailflow_decode_duration_seconds_count"));
        Assert.Equal(waits + 1, Value(after, "detailflow_queue_wait_seconds_count"));   // the miss's one generation
        Assert.Equal(api.Services.GetRequiredService<Batcher>().KvCacheBytes, Value(after, "detailflow_memory_kv_cache_bytes"));
        Assert.Contains("dotnet_gc_collections_total{otel_scope_name=\"System.Runtime\"", after);   // the runtime's own metrics   // the miss's final image; the hit decodes nothing
    }

    [Fact]
    public async Task Metrics_ResultCacheGauge_GrowsByWhatAGeneratedImageLeavesInTheInProcessCache()
    {
        using var client = api.CreateClient();
        var memory = (MemoryCache)api.Services.GetRequiredService<IMemoryCache>();
        const string gauge = "detailflow_memory_result_cache_bytes";
        long before = memory.GetCurrentStatistics()!.CurrentEstimatedSize!.Value;

        var response = await client.PostAsJsonAsync("/v1/generate", ApiFactory.Body(seed: 60808, tokens: 32));
        Assert.Equal("miss", response.Headers.GetValues("X-Cache").Single());
        long png = (await response.Content.ReadAsByteArrayAsync()).Length;
        long held = memory.GetCurrentStatistics()!.CurrentEstimatedSize!.Value;
        Assert.True(held >= before + png, $"{held - before} bytes cached for a PNG of {png}");

        string after = await ScrapeUntil(client, m => Value(m, gauge) >= held);
        Assert.Equal(held, Value(after, gauge));
    }

    [Fact]
    public async Task Metrics_AJobHeldBeforeItsFirstStep_ReportsThatWaitAsQueueWait()
    {
        using var client = api.CreateClient();
        string before = await client.GetStringAsync("/metrics");
        double waits = Value(before, "detailflow_queue_wait_seconds_count"), waited = Value(before, "detailflow_queue_wait_seconds_sum");
        var held = TimeSpan.FromSeconds(1);

        api.Gate.Close();
        Task<HttpResponseMessage> request;
        try
        {
            request = client.PostAsJsonAsync("/v1/generate", ApiFactory.Body(seed: 60707, tokens: 8));
            await Task.Delay(held);
        }
        finally
        {
            api.Gate.Open();
        }
        (await request.WaitAsync(TimeSpan.FromSeconds(60))).EnsureSuccessStatusCode();

        string after = await ScrapeUntil(client, m => Value(m, "detailflow_queue_wait_seconds_count") >= waits + 1);
        Assert.Equal(waits + 1, Value(after, "detailflow_queue_wait_seconds_count"));
        double wait = Value(after, "detailflow_queue_wait_seconds_sum") - waited;
        Assert.InRange(wait, held.TotalSeconds - 0.2, held.TotalSeconds + 10);   // the hold, not the step: its clock starts after the gate
    }

    [Fact]
    public async Task Metrics_WhileAJobIsUnfinished_QueueDepthCountsItAndFirstPreviewIsTimed()
    {
        using var client = api.CreateClient();
        var batcher = api.Services.GetRequiredService<Batcher>();
        string before = await client.GetStringAsync("/metrics");
        double previews = Value(before, "detailflow_preview_first_seconds_count");

        // The steps are held, so the job stays unfinished; its first preview (of the 8 codes it starts from) needs no step.
        api.Gate.Close();
        var job = new InferenceJob
        {
            Spec = new ImageSpec(1, new SamplingOptions { Seed = 5150 }, 32, Cacheable: false), Known = new long[8], PreviewTokens = new HashSet<int> { 8 },
        };
        try
        {
            Assert.True(batcher.TrySubmit(job));
            string held = await ScrapeUntil(client, m => Value(m, "detailflow_queue_depth") >= 1
                                                         && Value(m, "detailflow_preview_first_seconds_count") >= previews + 1);
            Assert.Equal(1, Value(held, "detailflow_queue_depth"));
            Assert.False(job.Result.Task.IsCompleted);
        }
        finally
        {
            api.Gate.Open();
        }
        var result = await job.Result.Task.WaitAsync(TimeSpan.FromSeconds(60));
        Assert.Equal(32, result.Codes.Length);
        await ScrapeUntil(client, m => Value(m, "detailflow_queue_depth") == 0);
    }

    [Fact]
    public async Task Metrics_TagCombinationsBeyondTheLimit_AreSummedIntoOneOverflowSeries()
    {
        using var client = api.CreateClient();
        var telemetry = api.Services.GetRequiredService<DetailFlowTelemetry>();
        const string metric = "detailflow_jobs_steps_total";
        double before = Value(await client.GetStringAsync("/metrics"), metric);
        int kinds = DetailFlowTelemetry.SeriesPerMetric + 50;
        for (int i = 0; i < kinds; i++) telemetry.JobSteps.Add(1, new KeyValuePair<string, object?>("kind", $"probe-{i}"));

        string after = await ScrapeUntil(client, m => Value(m, metric) >= before + kinds);
        Assert.Equal(before + kinds, Value(after, metric));   // nothing dropped
        int series = after.Split('\n').Count(l => l.StartsWith(metric + "{", StringComparison.Ordinal) && l.Contains(Scope));
        Assert.True(series <= DetailFlowTelemetry.SeriesPerMetric + 1, $"{series} series");   // the overflow series included
        Assert.True(Value(after, metric, "otel_metric_overflow=\"true\"") >= kinds - DetailFlowTelemetry.SeriesPerMetric, "no overflow series");
    }
}
