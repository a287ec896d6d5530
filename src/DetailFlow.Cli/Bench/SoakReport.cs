using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace DetailFlow.Cli.Bench;

/// <summary>Refusals (429/503): how many, how many said when to come back (Retry-After), by status.</summary>
public sealed record SoakRefusals(
    int Total,
    int WithRetryAfter,
    int WithoutRetryAfter,
    IReadOnlyDictionary<string, int> ByStatus);

/// <summary>Streams: completed (or cut as planned), ended by an error event, unfinished (no completed and no error event).</summary>
public sealed record SoakStreams(
    int Started,
    int Completed,
    int Cut,
    int ErrorEvents,
    int Unfinished);

/// <summary>
/// Resident memory (MiB) at the start, after the warm-up, at the end and at its peak, and its slope after the warm-up:
/// the least-squares fit over the RSS trace (one reading a second, with a pid) or else over the samples, whose count
/// <see cref="SlopePoints"/> gives.
/// </summary>
public sealed record SoakMemory(
    string Source,
    double? StartMb,
    double? AfterWarmupMb,
    double? EndMb,
    double? PeakMb,
    double? SlopeMbPerMin,
    int SlopePoints,
    double? HeapEndMb,
    long? GcCollections);

/// <summary>OS threads of the service (first sample, first after the warm-up, settled end, maximum) and the queue and rows at the end.</summary>
public sealed record SoakThreads(
    string Source,
    int? First,
    int? AfterWarmup,
    int? Last,
    int? Max,
    int? QueueDepthEnd,
    int? RowsInUseEnd);

/// <summary>
/// What a <see cref="SoakRun"/> found, and its verdict: PASS when there is no 5xx, no unfinished stream, no refusal
/// without Retry-After, no request without an HTTP answer, no malformed request let through, an RSS slope after the
/// warm-up under <see cref="MaxRssSlopeMbPerMinute"/>, and a flat thread count (the settled end at most
/// <see cref="ThreadMargin"/> above the first sample after the warm-up).
/// </summary>
public sealed record SoakReport
{
    public const double MaxRssSlopeMbPerMinute = 2;

    /// <summary>The soak's JSON (report, samples, faults): snake_case names, dictionary keys as they are.</summary>
    public static readonly JsonSerializerOptions JsonOptions = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    /// <summary>Threads the end may exceed the post-warm-up baseline by: the larger of 4 and 10 % (pool threads come and go).</summary>
    public static int ThreadMargin(int baseline) => Math.Max(4, baseline / 10);

    public required string Url { get; init; }
    public required string Model { get; init; }
    public int Clients { get; init; }
    public double Seconds { get; init; }
    public double WarmupSeconds { get; init; }
    [JsonPropertyName("openai_route")] public bool OpenAiRoute { get; init; }
    public int Requests { get; init; }
    public int Ok { get; init; }
    public int ServerErrors { get; init; }
    public int TransportErrors { get; init; }
    public int MalformedAccepted { get; init; }
    public int RepeatsOk { get; init; }
    public int RepeatsCacheHits { get; init; }
    public required IReadOnlyList<SoakKindStats> Kinds { get; init; }
    public required IReadOnlyList<SoakPhaseStats> Phases { get; init; }
    public required SoakRefusals Refusals { get; init; }
    public required SoakStreams Streams { get; init; }
    public required SoakMemory Memory { get; init; }
    public required SoakThreads Threads { get; init; }
    public double? CacheHitRatioEnd { get; init; }
    public required IReadOnlyList<SoakFault> Faults { get; init; }
    public required IReadOnlyList<SoakSample> Samples { get; init; }
    public IReadOnlyList<SoakRssPoint> RssTrace { get; init; } = [];
    public bool Pass => Reasons.Count == 0;
    public IReadOnlyList<string> Reasons { get; init; } = [];

    /// <summary>One line: PASS, or FAIL and every reason.</summary>
    public string Verdict => Pass ? "PASS" : "FAIL: " + string.Join("; ", Reasons);

    public static SoakReport From(SoakOptions o, string model, bool openAi, string source, double trafficSeconds,
        IReadOnlyList<SoakRecord> records, IReadOnlyList<SoakSample> samples, IReadOnlyList<SoakFault> faults,
        IReadOnlyList<SoakRssPoint>? rssTrace = null)
    {
        rssTrace ??= [];
        double warm = o.WarmUp.TotalSeconds;
        var streams = records.Where(r => r.Kind is SoakKinds.Stream or SoakKinds.StreamCut).ToArray();
        var refusals = records.Where(r => r.Refused).ToArray();
        var repeats = records.Where(r => r.Kind == SoakKinds.Repeat && r.Ok).ToArray();
        var report = new SoakReport
        {
            Url = o.Url.ToString(), Model = model, Clients = o.Clients, Seconds = Math.Round(trafficSeconds, 1), WarmupSeconds = warm,
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
            Memory = MemoryOf(samples, rssTrace, source, warm, trafficSeconds),
            Threads = ThreadsOf(samples, source, warm),
            CacheHitRatioEnd = samples.LastOrDefault(s => s.CacheHitRatio is not null)?.CacheHitRatio is { } ratio ? Math.Round(ratio, 3) : null,
            Faults = faults, Samples = samples, RssTrace = rssTrace,
        };
        return report with { Reasons = Judge(report) };
    }

    private static SoakMemory MemoryOf(IReadOnlyList<SoakSample> samples, IReadOnlyList<SoakRssPoint> trace, string source, double warm,
        double trafficSeconds)
    {
        var rss = samples.Where(s => s.RssMb is not null).ToArray();
        (double Minutes, double Mb)[] Fit(IEnumerable<SoakRssPoint> points) =>
            points.Where(p => p.Seconds >= warm && p.Seconds <= trafficSeconds + 1).Select(p => (p.Seconds / 60, p.Mb)).ToArray();
        var fit = Fit(trace);
        if (fit.Length < 2) fit = Fit(rss.Select(s => new SoakRssPoint(s.Seconds, s.RssMb!.Value)));
        double? peak = rss.Select(s => s.RssMb).Concat(trace.Select(p => (double?)p.Mb)).Max();
        static double? R(double? v) => v is { } x ? Math.Round(x, 1) : null;
        return new SoakMemory(source, R(rss.FirstOrDefault()?.RssMb), R(rss.FirstOrDefault(s => s.Seconds >= warm)?.RssMb),
            R(rss.LastOrDefault()?.RssMb), R(peak),
            SoakStats.Slope(fit) is { } slope ? Math.Round(slope, 2) : null, fit.Length,
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
        if (r.Memory.SlopeMbPerMin is not { } slope) reasons.Add("RSS slope not measured (fewer than 2 samples after the warm-up)");
        else if (slope >= MaxRssSlopeMbPerMinute) reasons.Add($"RSS slope {slope.ToString("0.00", CultureInfo.InvariantCulture)} MB/min ≥ {MaxRssSlopeMbPerMinute}");
        if (r.Threads.AfterWarmup is not { } baseline || r.Threads.Last is not { } last) reasons.Add("thread count not measured");
        else if (last > baseline + ThreadMargin(baseline)) reasons.Add($"threads grew from {baseline} (after warm-up) to {last}");
        return reasons;
    }
}
