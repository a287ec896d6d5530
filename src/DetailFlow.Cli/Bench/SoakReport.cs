using System.Globalization;
using System.Text.Json.Serialization;

namespace DetailFlow.Cli.Bench;

/// <summary>Refusals (429/503): how many, how many said when to come back (Retry-After), by status.</summary>
public sealed record SoakRefusals(
    [property: JsonPropertyName("total")] int Total,
    [property: JsonPropertyName("with_retry_after")] int WithRetryAfter,
    [property: JsonPropertyName("without_retry_after")] int WithoutRetryAfter,
    [property: JsonPropertyName("by_status")] IReadOnlyDictionary<string, int> ByStatus);

/// <summary>Streams: completed (or cut as planned), ended by an error event, unfinished (no completed and no error event).</summary>
public sealed record SoakStreams(
    [property: JsonPropertyName("started")] int Started,
    [property: JsonPropertyName("completed")] int Completed,
    [property: JsonPropertyName("cut")] int Cut,
    [property: JsonPropertyName("error_events")] int ErrorEvents,
    [property: JsonPropertyName("unfinished")] int Unfinished);

/// <summary>Resident memory (MiB) at the start, after the warm-up, at the end and at its peak, and its slope after the warm-up.</summary>
public sealed record SoakMemory(
    [property: JsonPropertyName("source")] string Source,
    [property: JsonPropertyName("start_mb")] double? StartMb,
    [property: JsonPropertyName("after_warmup_mb")] double? AfterWarmUpMb,
    [property: JsonPropertyName("end_mb")] double? EndMb,
    [property: JsonPropertyName("peak_mb")] double? PeakMb,
    [property: JsonPropertyName("slope_mb_per_min")] double? SlopeMbPerMinute,
    [property: JsonPropertyName("heap_end_mb")] double? HeapEndMb,
    [property: JsonPropertyName("gc_collections")] long? GcCollections);

/// <summary>OS threads of the service (first sample, first after the warm-up, settled end, maximum) and the queue and rows at the end.</summary>
public sealed record SoakThreads(
    [property: JsonPropertyName("source")] string Source,
    [property: JsonPropertyName("first")] int? First,
    [property: JsonPropertyName("after_warmup")] int? AfterWarmUp,
    [property: JsonPropertyName("last")] int? Last,
    [property: JsonPropertyName("max")] int? Max,
    [property: JsonPropertyName("queue_depth_end")] int? QueueDepthEnd,
    [property: JsonPropertyName("rows_in_use_end")] int? RowsInUseEnd);

/// <summary>
/// What a <see cref="SoakRun"/> found, and its verdict: PASS when there is no 5xx, no unfinished stream, no refusal
/// without Retry-After, no request without an HTTP answer, no malformed request let through, an RSS slope after the
/// warm-up under <see cref="MaxRssSlopeMbPerMinute"/>, and a flat thread count (the settled end at most
/// <see cref="ThreadMargin"/> above the first sample after the warm-up).
/// </summary>
public sealed record SoakReport
{
    public const double MaxRssSlopeMbPerMinute = 2;

    /// <summary>Threads the end may exceed the post-warm-up baseline by: the larger of 4 and 10 % (pool threads come and go).</summary>
    public static int ThreadMargin(int baseline) => Math.Max(4, baseline / 10);

    [JsonPropertyName("url")] public required string Url { get; init; }
    [JsonPropertyName("model")] public required string Model { get; init; }
    [JsonPropertyName("clients")] public int Clients { get; init; }
    [JsonPropertyName("seconds")] public double Seconds { get; init; }
    [JsonPropertyName("warmup_seconds")] public double WarmUpSeconds { get; init; }
    [JsonPropertyName("openai_route")] public bool OpenAiRoute { get; init; }
    [JsonPropertyName("requests")] public int Requests { get; init; }
    [JsonPropertyName("ok")] public int Ok { get; init; }
    [JsonPropertyName("server_errors")] public int ServerErrors { get; init; }
    [JsonPropertyName("transport_errors")] public int TransportErrors { get; init; }
    [JsonPropertyName("malformed_accepted")] public int MalformedAccepted { get; init; }
    [JsonPropertyName("repeats_ok")] public int RepeatsOk { get; init; }
    [JsonPropertyName("repeats_cache_hits")] public int RepeatsCacheHits { get; init; }
    [JsonPropertyName("kinds")] public required IReadOnlyList<SoakKindStats> Kinds { get; init; }
    [JsonPropertyName("phases")] public required IReadOnlyList<SoakPhaseStats> Phases { get; init; }
    [JsonPropertyName("refusals")] public required SoakRefusals Refusals { get; init; }
    [JsonPropertyName("streams")] public required SoakStreams Streams { get; init; }
    [JsonPropertyName("memory")] public required SoakMemory Memory { get; init; }
    [JsonPropertyName("threads")] public required SoakThreads Threads { get; init; }
    [JsonPropertyName("cache_hit_ratio_end")] public double? CacheHitRatioEnd { get; init; }
    [JsonPropertyName("faults")] public required IReadOnlyList<SoakFault> Faults { get; init; }
    [JsonPropertyName("samples")] public required IReadOnlyList<SoakSample> Samples { get; init; }
    [JsonPropertyName("pass")] public bool Pass => Reasons.Count == 0;
    [JsonPropertyName("reasons")] public IReadOnlyList<string> Reasons { get; init; } = [];

    /// <summary>One line: PASS, or FAIL and every reason.</summary>
    [JsonPropertyName("verdict")] public string Verdict => Pass ? "PASS" : "FAIL: " + string.Join("; ", Reasons);

    public static SoakReport From(SoakOptions o, string model, bool openAi, string source, double trafficSeconds,
        IReadOnlyList<SoakRecord> records, IReadOnlyList<SoakSample> samples, IReadOnlyList<SoakFault> faults)
    {
        double warm = o.WarmUp.TotalSeconds;
        var streams = records.Where(r => r.Kind is SoakKinds.Stream or SoakKinds.StreamCut).ToArray();
        var refusals = records.Where(r => r.Refused).ToArray();
        var repeats = records.Where(r => r.Kind == SoakKinds.Repeat && r.Ok).ToArray();
        var report = new SoakReport
        {
            Url = o.Url.ToString(), Model = model, Clients = o.Clients, Seconds = Math.Round(trafficSeconds, 1), WarmUpSeconds = warm,
            OpenAiRoute = openAi, Requests = records.Count, Ok = records.Count(r => r.Ok),
            ServerErrors = records.Count(r => r.ServerError), TransportErrors = records.Count(r => r.NoAnswer),
            MalformedAccepted = records.Count(r => SoakKinds.IsMalformed(r.Kind) && !r.Ok && !r.Refused && r.Status is < 400),
            RepeatsOk = repeats.Length, RepeatsCacheHits = repeats.Count(r => r.CacheHit == true),
            Kinds = SoakStats.ByKind(records), Phases = SoakStats.ByPhase(records, faults),
            Refusals = new SoakRefusals(refusals.Length, refusals.Count(r => r.RetryAfterSeconds is not null),
                refusals.Count(r => r.RetryAfterSeconds is null),
                refusals.GroupBy(r => r.Status!.Value.ToString(CultureInfo.InvariantCulture)).ToDictionary(g => g.Key, g => g.Count())),
            Streams = new SoakStreams(streams.Length, streams.Count(r => r.Ok && r.Kind == SoakKinds.Stream),
                streams.Count(r => r.Ok && r.Kind == SoakKinds.StreamCut), streams.Count(r => r.Error?.Contains("error event", StringComparison.Ordinal) == true),
                streams.Count(r => r.Unfinished)),
            Memory = MemoryOf(samples, source, warm, trafficSeconds),
            Threads = ThreadsOf(samples, source, warm),
            CacheHitRatioEnd = samples.LastOrDefault(s => s.CacheHitRatio is not null)?.CacheHitRatio is { } ratio ? Math.Round(ratio, 3) : null,
            Faults = faults, Samples = samples,
        };
        return report with { Reasons = Judge(report) };
    }

    private static SoakMemory MemoryOf(IReadOnlyList<SoakSample> samples, string source, double warm, double trafficSeconds)
    {
        var rss = samples.Where(s => s.RssMb is not null).ToArray();
        var fit = rss.Where(s => s.Seconds >= warm && s.Seconds <= trafficSeconds + 1).Select(s => (s.Seconds / 60, s.RssMb!.Value)).ToArray();
        static double? R(double? v) => v is { } x ? Math.Round(x, 1) : null;
        return new SoakMemory(source, R(rss.FirstOrDefault()?.RssMb), R(rss.FirstOrDefault(s => s.Seconds >= warm)?.RssMb),
            R(rss.LastOrDefault()?.RssMb), R(rss.Length > 0 ? rss.Max(s => s.RssMb) : null),
            SoakStats.Slope(fit) is { } slope ? Math.Round(slope, 2) : null,
            R(samples.LastOrDefault(s => s.HeapMb is not null)?.HeapMb), samples.LastOrDefault(s => s.GcCollections is not null)?.GcCollections);
    }

    private static SoakThreads ThreadsOf(IReadOnlyList<SoakSample> samples, string source, double warm)
    {
        var t = samples.Where(s => s.Threads is not null).ToArray();
        var last = samples.LastOrDefault();
        return new SoakThreads(source, t.FirstOrDefault()?.Threads, t.FirstOrDefault(s => s.Seconds >= warm)?.Threads, t.LastOrDefault()?.Threads,
            t.Length > 0 ? t.Max(s => s.Threads) : null, last?.QueueDepth, last?.RowsInUse);
    }

    private static IReadOnlyList<string> Judge(SoakReport r)
    {
        var reasons = new List<string>();
        if (r.Ok == 0) reasons.Add("no request succeeded");
        if (r.ServerErrors > 0) reasons.Add($"{r.ServerErrors} responses 5xx");
        if (r.Streams.Unfinished > 0) reasons.Add($"{r.Streams.Unfinished} streams ended without completed or an error event");
        if (r.Refusals.WithoutRetryAfter > 0) reasons.Add($"{r.Refusals.WithoutRetryAfter} refusals without Retry-After");
        if (r.TransportErrors > 0) reasons.Add($"{r.TransportErrors} requests got no HTTP answer (connection error or timeout)");
        if (r.MalformedAccepted > 0) reasons.Add($"{r.MalformedAccepted} malformed requests not answered 4xx");
        if (r.Memory.SlopeMbPerMinute is not { } slope) reasons.Add("RSS slope not measured (fewer than 2 samples after the warm-up)");
        else if (slope >= MaxRssSlopeMbPerMinute) reasons.Add($"RSS slope {slope.ToString("0.00", CultureInfo.InvariantCulture)} MB/min ≥ {MaxRssSlopeMbPerMinute}");
        if (r.Threads.AfterWarmUp is not { } baseline || r.Threads.Last is not { } last) reasons.Add("thread count not measured");
        else if (last > baseline + ThreadMargin(baseline)) reasons.Add($"threads grew from {baseline} (after warm-up) to {last}");
        return reasons;
    }
}
