using System.Text.Json.Serialization;

namespace DetailFlow.Cli.Bench;

/// <summary>
/// The outcome of a <see cref="ServeBenchmark"/> run: throughput of successful images over the whole run (requests in
/// flight at the end included), latency percentiles of successful requests, time to first preview (stream mode),
/// error counts by kind.
/// </summary>
public sealed record ServeBenchmarkReport(
    [property: JsonPropertyName("url")] string Url,
    [property: JsonPropertyName("clients")] int Clients,
    [property: JsonPropertyName("stream")] bool Stream,
    [property: JsonPropertyName("tokens")] int? Tokens,
    [property: JsonPropertyName("seconds")] double Seconds,
    [property: JsonPropertyName("requests")] int Requests,
    [property: JsonPropertyName("completed")] int Completed,
    [property: JsonPropertyName("errors")] int Errors,
    [property: JsonPropertyName("error_kinds")] IReadOnlyDictionary<string, int> ErrorKinds,
    [property: JsonPropertyName("images_per_second")] double ImagesPerSecond,
    [property: JsonPropertyName("latency_p50_ms")] double? LatencyP50Ms,
    [property: JsonPropertyName("latency_p95_ms")] double? LatencyP95Ms,
    [property: JsonPropertyName("first_preview_p50_ms")] double? FirstPreviewP50Ms,
    [property: JsonPropertyName("first_preview_p95_ms")] double? FirstPreviewP95Ms)
{
    public static ServeBenchmarkReport From(ServeBenchmarkOptions o, IReadOnlyList<ServeSample> samples, TimeSpan elapsed)
    {
        var ok = samples.Where(s => s.Ok).ToList();
        var latencies = ok.Select(s => s.LatencySeconds * 1000).ToArray();
        var firsts = ok.Where(s => s.FirstPreviewSeconds is not null).Select(s => s.FirstPreviewSeconds!.Value * 1000).ToArray();
        var kinds = samples.Where(s => !s.Ok).GroupBy(s => s.Error!).ToDictionary(g => g.Key, g => g.Count());
        return new ServeBenchmarkReport(o.Url.ToString(), o.Clients, o.Stream, o.Tokens, elapsed.TotalSeconds, samples.Count, ok.Count,
            samples.Count - ok.Count, kinds, ok.Count / elapsed.TotalSeconds,
            Percentile(latencies, 0.50), Percentile(latencies, 0.95), Percentile(firsts, 0.50), Percentile(firsts, 0.95));
    }

    /// <summary>Linear interpolation between closest ranks (numpy's default); null for no values.</summary>
    /// <summary>The median of a non-empty sample (mean of the middle two for an even count).</summary>
    public static double Median(IReadOnlyCollection<double> values) =>
        Percentile(values, 0.5) ?? throw new ArgumentException("no values", nameof(values));

    public static double? Percentile(IReadOnlyCollection<double> values, double q)
    {
        if (values.Count == 0) return null;
        var sorted = values.Order().ToArray();
        double rank = q * (sorted.Length - 1);
        int low = (int)Math.Floor(rank), high = (int)Math.Ceiling(rank);
        return sorted[low] + (sorted[high] - sorted[low]) * (rank - low);
    }
}
