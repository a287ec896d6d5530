using System.Diagnostics;
using System.Text.Json.Serialization;

namespace DetailFlow.Cli.Bench;

/// <summary>
/// Mid-flight latency probe (<c>detailflow bench serve --probe K</c>): the latency of one request on an idle service
/// versus the same kind of request arriving while <see cref="ServeBenchmarkOptions.Clients"/> closed-loop background
/// clients keep a batch mid-flight. Phase 1 sends K probes one after another on the idle service; phase 2 starts the
/// background clients, waits until one background request has completed (the batch is then full and its rows at
/// staggered steps), sends K probes one after another, each after a random pause so it lands at a random point of the
/// batch's steps, and stops the background (waiting for its requests to end); phase 3 sends K more probes to the idle
/// service, so a change of the machine's load during the run shows up as a gap between the two idle phases (the idle
/// median is over all 2K idle probes). Every request has a fresh seed (never a cache hit). Reports medians and their
/// ratio, and the background throughput while probing.
/// </summary>
public static class ServeProbe
{
    public static async Task<ServeProbeReport> RunAsync(ServeBenchmarkOptions options, int probes, CancellationToken cancellationToken)
    {
        options.Validate();
        if (probes < 1) throw new ArgumentException($"--probe {probes}: need at least 1 probe");
        using var http = ServeBenchmark.CreateClient(options);
        await ServeBenchmark.CheckReadyAsync(http, options, cancellationToken);
        long seed = options.FirstSeed - 1;
        long NextSeed() => Interlocked.Increment(ref seed);
        var plain = options with { Stream = false };

        // Warm-up (first-request costs in the service and the client), then the idle probes.
        Check(await ServeBenchmark.OneAsync(http, plain, NextSeed(), cancellationToken));
        var idle = await ProbesAsync(http, plain, probes, NextSeed, cancellationToken);
        double idleMedian = ServeBenchmarkReport.Median(idle);

        using var stopBackground = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var load = new BackgroundLoad();
        var background = load.Start(http, plain, options.Clients, NextSeed, stopBackground.Token);

        var busy = new List<double>();
        double probingSeconds;
        int backgroundWhileProbing;
        try
        {
            await Task.WhenAny(load.First.Task, Task.WhenAll(background)).WaitAsync(cancellationToken);
            if (!load.First.Task.IsCompleted) await Task.WhenAll(background);   // surfaces the failure
            var random = new Random(unchecked((int)options.FirstSeed));
            int before = load.Done;
            long start = Stopwatch.GetTimestamp();
            for (int i = 0; i < probes; i++)
            {
                await Task.Delay(TimeSpan.FromSeconds(random.NextDouble() * idleMedian / 2), cancellationToken);
                busy.Add(Check(await ServeBenchmark.OneAsync(http, plain, NextSeed(), cancellationToken)).LatencySeconds);
            }
            probingSeconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
            backgroundWhileProbing = load.Done - before;
        }
        finally
        {
            stopBackground.Cancel();
        }
        await Task.WhenAll(background);
        idle.AddRange(await ProbesAsync(http, plain, probes, NextSeed, cancellationToken));
        idleMedian = ServeBenchmarkReport.Median(idle);
        double busyMedian = ServeBenchmarkReport.Median(busy);
        return new ServeProbeReport(options.Url.ToString(), options.Clients, options.Tokens, probes,
            idle.Select(Ms).ToArray(), busy.Select(Ms).ToArray(), Ms(idleMedian), Ms(busyMedian), busyMedian / idleMedian,
            backgroundWhileProbing / probingSeconds, ReadLoadAverage());
    }

    /// <summary>Latencies (s) of <paramref name="probes"/> requests sent one after another.</summary>
    private static async Task<List<double>> ProbesAsync(HttpClient http, ServeBenchmarkOptions plain, int probes, Func<long> nextSeed,
        CancellationToken cancellationToken)
    {
        var latencies = new List<double>();
        for (int i = 0; i < probes; i++)
            latencies.Add(Check(await ServeBenchmark.OneAsync(http, plain, nextSeed(), cancellationToken)).LatencySeconds);
        return latencies;
    }

    /// <summary>Clients that send requests back to back until stopped, so the service's batch stays mid-flight.</summary>
    private sealed class BackgroundLoad
    {
        private int _done;

        /// <summary>Completes when the first background request has finished.</summary>
        public TaskCompletionSource First { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        /// <summary>Background requests finished so far.</summary>
        public int Done => Volatile.Read(ref _done);

        public List<Task> Start(HttpClient http, ServeBenchmarkOptions plain, int clients, Func<long> nextSeed, CancellationToken stop) =>
            Enumerable.Range(0, clients).Select(_ => Task.Run(async () =>
            {
                while (!stop.IsCancellationRequested)
                {
                    var sample = await ServeBenchmark.OneAsync(http, plain, nextSeed(), CancellationToken.None);
                    if (!sample.Ok) throw new InvalidOperationException($"a background request failed: {sample.Error}");
                    Interlocked.Increment(ref _done);
                    First.TrySetResult();
                }
            }, CancellationToken.None)).ToList();
    }

    private static ServeSample Check(ServeSample sample) =>
        sample.Ok ? sample : throw new InvalidOperationException($"a probe request failed: {sample.Error}");


    private static double Ms(double seconds) => Math.Round(seconds * 1000, 1);

    /// <summary>The 1-minute load average (Linux), or null elsewhere.</summary>
    public static double? ReadLoadAverage()
    {
        try
        {
            return double.Parse(File.ReadAllText("/proc/loadavg").Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException)
        {
            return null;
        }
    }
}

/// <summary>
/// What <see cref="ServeProbe"/> measured: every probe's latency on the idle service (K before, K after the
/// mid-flight phase) and while the background clients
/// keep a batch mid-flight, their medians, the ratio (mid-flight / idle; the target is ≤ 1.3), the background
/// images/s while probing, and the machine's 1-minute load average at the end.
/// </summary>
public sealed record ServeProbeReport(
    [property: JsonPropertyName("url")] string Url,
    [property: JsonPropertyName("background_clients")] int BackgroundClients,
    [property: JsonPropertyName("tokens")] int? Tokens,
    [property: JsonPropertyName("probes")] int Probes,
    [property: JsonPropertyName("idle_ms")] double[] IdleMs,
    [property: JsonPropertyName("mid_flight_ms")] double[] MidFlightMs,
    [property: JsonPropertyName("idle_p50_ms")] double IdleP50Ms,
    [property: JsonPropertyName("mid_flight_p50_ms")] double MidFlightP50Ms,
    [property: JsonPropertyName("ratio")] double Ratio,
    [property: JsonPropertyName("background_images_per_second")] double BackgroundImagesPerSecond,
    [property: JsonPropertyName("load_average")] double? LoadAverage);
