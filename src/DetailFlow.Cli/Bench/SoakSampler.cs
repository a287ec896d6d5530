using System.Globalization;

namespace DetailFlow.Cli.Bench;

/// <summary>
/// One look at the service (seconds into the run): resident memory, managed heap (uncollected garbage included), GC count, OS and
/// thread-pool threads, queue depth, KV-cache rows in use, cumulative cache hit ratio. Null where the service (or
/// <c>/proc</c>) did not say; <see cref="Error"/> when <c>/metrics</c> did not answer.
/// </summary>
public sealed record SoakSample(
    double Seconds,
    double? RssMb,
    double? HeapMb,
    long? GcCollections,
    int? Threads,
    int? PoolThreads,
    int? QueueDepth,
    int? RowsInUse,
    double? CacheHitRatio,
    string? Error = null);

/// <summary>One reading of the service's resident memory (MiB) from <c>/proc</c>, seconds into the run.</summary>
public sealed record SoakRssPoint(double Seconds, double Mb);

/// <summary>
/// Reads <see cref="SoakSample"/>s: the service's Prometheus text at <c>/metrics</c> (the names its OpenTelemetry
/// exporter gives the runtime's and DetailFlow's instruments), and, with a pid, <c>VmRSS</c> and <c>Threads</c> from
/// <c>/proc/PID/status</c>, which win over the service's own figures.
/// </summary>
public sealed class SoakSampler(HttpClient http, int? pid)
{
    private const double MiB = 1024 * 1024;

    public async Task<SoakSample> SampleAsync(double seconds, CancellationToken ct)
    {
        var (procRss, procThreads) = ReadProc(pid);
        Dictionary<string, double> m;
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(TimeSpan.FromSeconds(10));
            m = Parse(await http.GetStringAsync("/metrics", timeout.Token));
        }
        catch (Exception e) when (e is HttpRequestException or IOException || (e is OperationCanceledException && !ct.IsCancellationRequested))
        {
            return new SoakSample(seconds, procRss, null, null, procThreads, null, null, null, null, e.GetType().Name);
        }
        double? Get(string name) => m.TryGetValue(name, out double v) ? v : null;
        int? Int(string name) => Get(name) is { } v ? (int)v : null;
        double? hits = Get("detailflow_cache_hits_total"), misses = Get("detailflow_cache_misses_total");
        double? ratio = (hits ?? 0) + (misses ?? 0) > 0 ? (hits ?? 0) / ((hits ?? 0) + (misses ?? 0)) : null;
        return new SoakSample(seconds,
            procRss ?? Get("detailflow_memory_resident_bytes") / MiB ?? Get("dotnet_process_memory_working_set_bytes") / MiB,
            Get("detailflow_memory_managed_bytes") / MiB ?? Get("dotnet_gc_last_collection_heap_size_bytes") / MiB,
            Get("dotnet_gc_collections_total") is { } gcs ? (long)gcs : null,
            procThreads ?? Int("detailflow_process_threads"),
            Int("dotnet_thread_pool_thread_count_total") ?? Int("dotnet_thread_pool_thread_count"),
            Int("detailflow_queue_depth"), Int("detailflow_rows_in_use"), ratio);
    }

    /// <summary>Where RSS and threads come from, for the report.</summary>
    public string Source => pid is { } p ? $"/proc/{p}/status" : "/metrics";

    /// <summary>Prometheus text exposition: the sum of every metric's samples over all label sets, by name.</summary>
    public static Dictionary<string, double> Parse(string text)
    {
        var sums = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var raw in text.Split('\n'))
        {
            var line = raw.Trim();
            if (line.Length == 0 || line[0] == '#') continue;
            int brace = line.IndexOf('{'), space = line.IndexOf(' ');
            if (space < 0) continue;
            int nameEnd = brace >= 0 && brace < space ? brace : space;
            int valueStart = brace >= 0 && brace < space ? line.IndexOf('}', brace) + 1 : space;
            if (valueStart <= 0) continue;
            var fields = line[valueStart..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length == 0 || !double.TryParse(fields[0], NumberStyles.Float, CultureInfo.InvariantCulture, out double value)) continue;
            string name = line[..nameEnd];
            sums[name] = sums.GetValueOrDefault(name) + value;
        }
        return sums;
    }

    /// <summary>VmRSS (MiB) and Threads of <c>/proc/PID/status</c>; nulls without a pid, or when it cannot be read (the process is gone).</summary>
    public static (double? RssMb, int? Threads) ReadProc(int? pid)
    {
        if (pid is not { } p) return (null, null);
        double? rss = null;
        int? threads = null;
        try
        {
            foreach (var line in File.ReadLines($"/proc/{p}/status"))
            {
                var parts = line.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
                if (parts.Length < 2) continue;
                if (parts[0] == "VmRSS:" && double.TryParse(parts[1], CultureInfo.InvariantCulture, out double kb)) rss = kb / 1024;
                else if (parts[0] == "Threads:" && int.TryParse(parts[1], CultureInfo.InvariantCulture, out int t)) threads = t;
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
        return (rss, threads);
    }
}
