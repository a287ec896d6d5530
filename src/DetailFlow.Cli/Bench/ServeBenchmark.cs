using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Net.ServerSentEvents;

namespace DetailFlow.Cli.Bench;

/// <summary>What <see cref="ServeBenchmark"/> sends: N closed-loop clients for a duration, plain or streamed requests.</summary>
public sealed record ServeBenchmarkOptions(Uri Url, int Clients, TimeSpan Duration, bool Stream, int? Tokens, long ClassId, long FirstSeed)
{
    /// <summary>Throws unless the URL is http(s) on a loopback host: the load generator never targets another machine.</summary>
    public void Validate()
    {
        if (!Url.IsAbsoluteUri || Url.Scheme is not ("http" or "https"))
            throw new ArgumentException($"--url '{Url}': expected an absolute http:// or https:// URL");
        if (!IsLoopback(Url))
            throw new ArgumentException($"--url '{Url}': bench serve only targets this machine (localhost, 127.0.0.0/8 or ::1), not '{Url.Host}'");
        if (Clients is < 1 or > 1024) throw new ArgumentException($"--clients {Clients}: must be in 1..1024");
        if (Duration <= TimeSpan.Zero) throw new ArgumentException($"--seconds {Duration.TotalSeconds}: must be positive");
    }

    internal static bool IsLoopback(Uri url) =>
        url.IsLoopback || (IPAddress.TryParse(url.Host.Trim('[', ']'), out var ip) && IPAddress.IsLoopback(ip));
}

/// <summary>One request's outcome: latency, time to the first preview (stream mode), or what went wrong.</summary>
public sealed record ServeSample(double LatencySeconds, double? FirstPreviewSeconds, string? Error)
{
    public bool Ok => Error is null;
}

/// <summary>
/// Closed-loop load on <c>POST /v1/generate</c> (or <c>/v1/generate/stream</c>): each client sends its next request as
/// soon as the previous one ends, every request with a fresh seed (so none is served from the code cache), until the
/// duration is over; requests in flight then finish and count.
/// </summary>
public static class ServeBenchmark
{
    public static async Task<ServeBenchmarkReport> RunAsync(ServeBenchmarkOptions options, CancellationToken cancellationToken)
    {
        options.Validate();
        using var http = CreateClient(options);
        await CheckReadyAsync(http, options, cancellationToken);

        var samples = new ConcurrentQueue<ServeSample>();
        long seed = options.FirstSeed - 1;
        long start = Stopwatch.GetTimestamp();
        var clients = Enumerable.Range(0, options.Clients).Select(_ => Task.Run(async () =>
        {
            while (Stopwatch.GetElapsedTime(start) < options.Duration)
            {
                cancellationToken.ThrowIfCancellationRequested();
                samples.Enqueue(await OneAsync(http, options, Interlocked.Increment(ref seed), cancellationToken));
            }
        }, cancellationToken));
        await Task.WhenAll(clients);
        return ServeBenchmarkReport.From(options, samples.ToList(), Stopwatch.GetElapsedTime(start));
    }

    internal static HttpClient CreateClient(ServeBenchmarkOptions options) =>
        new(new SocketsHttpHandler { MaxConnectionsPerServer = options.Clients + 1, MaxResponseDrainSize = 0 })
        {
            BaseAddress = options.Url, Timeout = TimeSpan.FromMinutes(10),
        };

    internal static async Task CheckReadyAsync(HttpClient http, ServeBenchmarkOptions options, CancellationToken cancellationToken)
    {
        using var ready = await http.GetAsync("/v1/models", cancellationToken);
        if (!ready.IsSuccessStatusCode)
            throw new InvalidOperationException($"{options.Url} answered GET /v1/models with {(int)ready.StatusCode}: is the model loaded?");
    }

    internal static async Task<ServeSample> OneAsync(HttpClient http, ServeBenchmarkOptions o, long seed, CancellationToken ct)
    {
        var body = new Dictionary<string, object?> { ["class"] = o.ClassId, ["seed"] = seed };
        if (o.Tokens is { } tokens) body["tokens"] = tokens;
        long start = Stopwatch.GetTimestamp();
        double Elapsed() => Stopwatch.GetElapsedTime(start).TotalSeconds;
        try
        {
            if (!o.Stream)
            {
                using var response = await http.PostAsJsonAsync("/v1/generate", body, ct);
                await response.Content.LoadIntoBufferAsync(ct);
                return new ServeSample(Elapsed(), null, response.IsSuccessStatusCode ? null : $"HTTP {(int)response.StatusCode}");
            }
            using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/generate/stream") { Content = JsonContent.Create(body) };
            using var streamed = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct);
            if (!streamed.IsSuccessStatusCode) return new ServeSample(Elapsed(), null, $"HTTP {(int)streamed.StatusCode}");
            double? first = null;
            await using var events = await streamed.Content.ReadAsStreamAsync(ct);
            await foreach (var item in SseParser.Create(events).EnumerateAsync(ct))
            {
                switch (item.EventType)
                {
                    case "preview": first ??= Elapsed(); break;
                    case "completed": return new ServeSample(Elapsed(), first, null);
                    case "error": return new ServeSample(Elapsed(), first, "error event");
                }
            }
            return new ServeSample(Elapsed(), first, "stream ended without completed");
        }
        catch (Exception e) when (e is HttpRequestException or IOException || (e is OperationCanceledException && !ct.IsCancellationRequested))
        {
            return new ServeSample(Elapsed(), null, e.GetType().Name);
        }
    }
}
