using System.CommandLine;
using System.Text.Json;
using DetailFlow.Cli.Bench;

namespace DetailFlow.Cli.Tests;

/// <summary>The arithmetic and the verdict of <c>bench soak</c> on made-up records and samples (the run itself: SoakTests in the API tests).</summary>
public sealed class SoakReportTests
{
    private static readonly SoakOptions Options = new(new Uri("http://127.0.0.1:5000"), TimeSpan.FromMinutes(10), 4)
    {
        WarmUp = TimeSpan.FromMinutes(2),
    };

    private static SoakRecord Ok(string kind, double start, double seconds) => SoakRecord.Success(kind, 200) with { StartSeconds = start, LatencySeconds = seconds };

    /// <summary>A sample every minute with RSS growing by <paramref name="mbPerMinute"/> and threads by <paramref name="threadsPerMinute"/>.</summary>
    private static SoakSample[] Samples(double mbPerMinute, int threadsPerMinute) => Enumerable.Range(0, 11)
        .Select(m => new SoakSample(m * 60, 400 + mbPerMinute * m, 20, 100 + m, 30 + threadsPerMinute * m, 4, m == 10 ? 0 : 3, m == 10 ? 0 : 6, 0.2))
        .ToArray();

    private static SoakReport Report(IReadOnlyList<SoakRecord> records, SoakSample[] samples, IReadOnlyList<SoakFault>? faults = null) =>
        SoakReport.From(Options, "gpt", openAi: false, "/metrics", 600, records, samples, faults ?? []);

    [Fact]
    public void Json_UsesTheDocumentedSnakeCaseNames()
    {
        var report = Report([Ok(SoakKinds.Generate, 1, 0.5)], Samples(mbPerMinute: 1.5, threadsPerMinute: 0));
        using var doc = JsonDocument.Parse(JsonSerializer.Serialize(report, SoakReport.JsonOptions));
        var root = doc.RootElement;
        Assert.Equal(1.5, root.GetProperty("memory").GetProperty("slope_mb_per_min").GetDouble());
        Assert.Equal(403.0, root.GetProperty("memory").GetProperty("after_warmup_mb").GetDouble());
        Assert.Equal(30, root.GetProperty("threads").GetProperty("after_warmup").GetInt32());
        Assert.Equal(120, root.GetProperty("warmup_seconds").GetDouble());
        Assert.False(root.GetProperty("openai_route").GetBoolean());
        Assert.Equal(500, root.GetProperty("kinds")[0].GetProperty("p50_ms").GetDouble());
        Assert.Equal("PASS", root.GetProperty("verdict").GetString());
        Assert.Equal(400.0, root.GetProperty("samples")[0].GetProperty("rss_mb").GetDouble());
    }

    [Fact]
    public void CleanRun_Passes_WithTheFittedSlopeAndTheMemoryFigures()
    {
        var report = Report([Ok(SoakKinds.Generate, 1, 0.5), Ok(SoakKinds.Stream, 2, 1.0)], Samples(mbPerMinute: 1.5, threadsPerMinute: 0));
        Assert.True(report.Pass, report.Verdict);
        Assert.Equal("PASS", report.Verdict);
        Assert.Equal(1.5, report.Memory.SlopeMbPerMin);
        Assert.Equal((400.0, 403.0, 415.0, 415.0), (report.Memory.StartMb, report.Memory.AfterWarmupMb, report.Memory.EndMb, report.Memory.PeakMb));
        Assert.Equal((30, 30, 30, 0, 0), (report.Threads.First, report.Threads.AfterWarmup, report.Threads.Last, report.Threads.QueueDepthEnd, report.Threads.RowsInUseEnd));
    }

    [Fact]
    public void EveryBrokenCriterion_IsAReasonToFail()
    {
        SoakRecord[] records =
        [
            Ok(SoakKinds.Generate, 1, 0.5),
            SoakRecord.Failure(SoakKinds.Generate, 500, "HTTP 500") with { StartSeconds = 2 },
            SoakRecord.Failure(SoakKinds.Stream, 200, "stream ended without completed or error") with { Unfinished = true, StartSeconds = 3 },
            SoakRecord.Refusal(SoakKinds.Refine, 429, retryAfter: null) with { StartSeconds = 4 },
            SoakRecord.Refusal(SoakKinds.Refine, 503, retryAfter: 2) with { StartSeconds = 5 },
            SoakRecord.Failure(SoakKinds.BadJson, 200, "HTTP 200 (expected 4xx)") with { StartSeconds = 6 },
            SoakRecord.Failure(SoakKinds.Batch, null, "HttpRequestException") with { NoAnswer = true, StartSeconds = 7 },
        ];
        var report = Report(records, Samples(mbPerMinute: 2.5, threadsPerMinute: 2));
        Assert.False(report.Pass);
        Assert.Equal((1, 1, 1, 1, 1), (report.ServerErrors, report.Streams.Unfinished, report.Refusals.WithoutRetryAfter, report.MalformedAccepted, report.TransportErrors));
        Assert.Equal(new Dictionary<string, int> { ["429"] = 1, ["503"] = 1 }, report.Refusals.ByStatus);
        Assert.Equal(7, report.Reasons.Count);
        Assert.Contains("RSS slope 2.50 MB/min", report.Verdict);
        Assert.Contains("threads grew from 34 (after warm-up) to 50", report.Verdict);
        Assert.StartsWith("FAIL: 1 responses 5xx; 1 streams ended without completed", report.Verdict);
    }

    /// <summary>
    /// With an RSS trace (one reading a second) the slope is fitted over the trace after the warm-up, not over the
    /// 10-s samples, and its peak counts: here the late samples catch the tops of a swing and would say 3 MB/min, while
    /// the trace is flat.
    /// </summary>
    [Fact]
    public void RssTrace_TheSlopeIsFittedOverIt()
    {
        var samples = Samples(mbPerMinute: 0, threadsPerMinute: 0).Select(s => s.Seconds >= 420 ? s with { RssMb = 400 + (s.Seconds - 360) / 10 } : s).ToArray();
        var trace = Enumerable.Range(0, 601).Select(t => new SoakRssPoint(t, 400 + (t % 10 == 0 ? 30 : -30 / 9.0) + (t == 300 ? 100 : 0))).ToArray();
        var withoutTrace = Report([Ok(SoakKinds.Generate, 1, 0.5)], samples);
        var report = SoakReport.From(Options, "gpt", openAi: false, "/proc/1/status", 600, [Ok(SoakKinds.Generate, 1, 0.5)], samples, [], trace);

        Assert.True(withoutTrace.Memory.SlopeMbPerMin > 2, withoutTrace.Verdict);
        Assert.Equal(9, withoutTrace.Memory.SlopePoints);
        Assert.Equal(481, report.Memory.SlopePoints);
        Assert.InRange(report.Memory.SlopeMbPerMin!.Value, -0.5, 0.5);
        Assert.True(report.Pass, report.Verdict);
        Assert.Equal(530.0, report.Memory.PeakMb);
        using var doc = JsonDocument.Parse(JsonSerializer.Serialize(report, SoakReport.JsonOptions));
        Assert.Equal(601, doc.RootElement.GetProperty("rss_trace").GetArrayLength());
        Assert.Equal(481, doc.RootElement.GetProperty("memory").GetProperty("slope_points").GetInt32());
    }

    [Fact]
    public void TooFewSamplesAfterTheWarmUp_FailAsNotMeasured()
    {
        var report = Report([Ok(SoakKinds.Generate, 1, 0.5)], Samples(0, 0)[..3]);
        Assert.Contains("RSS slope not measured", report.Verdict);
    }

    [Fact]
    public void Phases_SplitAroundEachFault_ARequestOverlappingAFaultBelongsToIt()
    {
        SoakFault[] faults = [new(1, 100, 120, 0, null), new(2, 200, 220, 0, null)];
        SoakRecord[] records =
        [
            Ok(SoakKinds.Generate, 10, 0.1), Ok(SoakKinds.Generate, 99, 2),   // the second ends inside fault 1
            Ok(SoakKinds.Generate, 110, 0.5), SoakRecord.Failure(SoakKinds.Refine, 400, "HTTP 400") with { StartSeconds = 115, LatencySeconds = 0.1 },
            Ok(SoakKinds.Generate, 150, 0.3), Ok(SoakKinds.BadJson, 151, 0.001), Ok(SoakKinds.StreamCut, 152, 0.05),
            Ok(SoakKinds.Generate, 300, 0.4),
        ];
        var phases = SoakStats.ByPhase(records, faults);
        Assert.Equal(["before faults", "fault 1", "after fault 1", "fault 2", "after fault 2"], phases.Select(p => p.Phase));
        Assert.Equal([1, 3, 3, 0, 1], phases.Select(p => p.Requests));
        Assert.Equal(new Dictionary<string, int> { ["refine: HTTP 400"] = 1 }, phases[1].ErrorKinds);
        Assert.Equal(1, phases[1].Errors);
        // Latency of generation requests only: the malformed one and the cut stream are left out.
        Assert.Equal((300.0, 300.0), (phases[2].P50Ms!.Value, phases[2].MaxMs!.Value));
        Assert.Equal((100.0, 120.0), (phases[1].FromSeconds, phases[1].ToSeconds!.Value));
        Assert.Null(phases[4].ToSeconds);
        Assert.Equal("run", Assert.Single(SoakStats.ByPhase(records, [])).Phase);
    }

    [Fact]
    public void Slope_IsTheLeastSquaresFit()
    {
        Assert.Equal(2.0, SoakStats.Slope([(0, 1), (1, 3.5), (2, 5)])!.Value, 6);
        Assert.Null(SoakStats.Slope([(1, 1)]));
        Assert.Null(SoakStats.Slope([(1, 1), (1, 2)]));
    }

    [Fact]
    public void PrometheusText_SumsEverySeriesOfAName()
    {
        const string text = """
            # TYPE dotnet_gc_last_collection_heap_size_bytes gauge
            dotnet_gc_last_collection_heap_size_bytes{otel_scope_name="System.Runtime",gc_heap_generation="gen0"} 1048576
            dotnet_gc_last_collection_heap_size_bytes{otel_scope_name="System.Runtime",gc_heap_generation="gen2"} 2097152 1712345678000
            detailflow_queue_depth{otel_scope_name="DetailFlow.Api",otel_scope_version="1.0"} 3
            plain_metric 1.5e3
            """;
        var sums = SoakSampler.Parse(text);
        Assert.Equal(3145728, sums["dotnet_gc_last_collection_heap_size_bytes"]);
        Assert.Equal(3, sums["detailflow_queue_depth"]);
        Assert.Equal(1500, sums["plain_metric"]);
        Assert.Equal(3, sums.Count);
    }

    [Fact]
    public void Proc_GivesThisProcesssRssAndThreads()
    {
        var (rss, threads) = SoakSampler.ReadProc(Environment.ProcessId);
        Assert.InRange(rss!.Value, 1, 1 << 20);
        Assert.InRange(threads!.Value, 1, 10_000);
        Assert.Equal((null, null), SoakSampler.ReadProc(null));
    }

    [Theory]
    [InlineData("""{"models":[{"id":"gpt","num_classes":3,"labels":["a","b","c"],"max_tokens":8,"schedule":[{"tokens":8},{"tokens":1},{"tokens":4}]}]}""")]
    [InlineData("""{"object":"list","data":[{"id":"gpt","object":"model","num_classes":3,"labels":["a","b","c"],"schedule":[{"tokens":1,"resolution":8},{"tokens":4},{"tokens":8}]}]}""")]
    public void Models_BothShapesGiveLabelsAndSchedule(string json)
    {
        var model = SoakModel.Parse(json);
        Assert.Equal(("gpt", 3, 8), (model.Id, model.NumClasses, model.MaxTokens));
        Assert.Equal(["a", "b", "c"], model.Labels);
        Assert.Equal([1, 4, 8], model.Schedule);
        Assert.Equal([1, 4], model.Capped(5).Schedule);
        Assert.Throws<InvalidOperationException>(() => SoakModel.Parse("""{"data":[]}"""));
    }

    [Fact]
    public void StreamErrorEvent_RefusalNeedsARetryHintAndOtherStatusesAreFailures()
    {
        var refused = SoakRecord.FromErrorEvent(SoakKinds.Stream, """{"status":429,"title":"Queue full","retry_after":2}""");
        Assert.True(refused.Refused);
        Assert.Equal(2, refused.RetryAfterSeconds);
        Assert.Null(SoakRecord.FromErrorEvent(SoakKinds.Stream, """{"status":503}""").RetryAfterSeconds);
        var failed = SoakRecord.FromErrorEvent(SoakKinds.Stream, """{"status":504,"title":"Deadline exceeded"}""");
        Assert.True(failed.ServerError);
        Assert.Equal("error event 504", failed.Error);
    }

    [Theory]
    [InlineData("--url http://192.0.2.1:5000 --minutes 1")]
    [InlineData("--url http://127.0.0.1:5000 --minutes 1 --fault-command true")]
    [InlineData("--url http://127.0.0.1:5000 --minutes 1 --warmup-minutes 2")]
    [InlineData("--url http://127.0.0.1:5000 --minutes 0")]
    public async Task InvalidOptions_AreRefusedBeforeAnyRequest(string options)
    {
        var ui = new RecordingUi();
        int exit = await CliRoot.Create(ui).Parse("bench soak " + options).InvokeAsync();
        Assert.Equal(ExitCodes.InvalidInput, exit);
        Assert.Single(ui.Lines, l => l.StartsWith("error: --", StringComparison.Ordinal));
    }
}
