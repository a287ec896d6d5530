using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.Http.Json;

namespace DetailFlow.Cli.Bench;

/// <summary>
/// An endurance run (<c>detailflow bench soak</c>): <see cref="SoakOptions.Clients"/> closed-loop clients of the mixed
/// <see cref="SoakWorkload"/> for the duration, the fault command on its schedule, a <see cref="SoakSample"/> of the
/// service every <see cref="SoakOptions.SampleEvery"/>, then a settled sample once the traffic has ended and the queue
/// and rows have emptied (or 30 s have passed), and the <see cref="SoakReport"/>. With a pid it also reads the service's
/// RSS every <see cref="SoakOptions.RssTraceEvery"/> for the slope. Every loop ends by itself: clients stop
/// sending at the end of the duration, a request is abandoned after the request timeout, the fault command after the
/// grace period. A refused client waits as told by Retry-After (at most 10 s; 1 s without the header).
/// </summary>
public static class SoakRun
{
    private static readonly TimeSpan MaxBackOff = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan SettleLimit = TimeSpan.FromSeconds(30);

    /// <param name="progress">Told each sample as it is taken (a long run shows its memory as it goes); may be null.</param>
    public static async Task<SoakReport> RunAsync(SoakOptions options, Action<SoakSample>? progress, CancellationToken cancellationToken)
    {
        options.Validate();
        using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = options.Clients + 2, MaxResponseDrainSize = 0 })
        {
            BaseAddress = options.Url, Timeout = Timeout.InfiniteTimeSpan,   // every request has its own timeout
        };
        var model = await ReadModelAsync(http, options, cancellationToken);
        bool openAi = await ProbeOpenAiAsync(http, model, cancellationToken);
        var workload = new SoakWorkload(http, model, openAi, options.RequestTimeout);
        var sampler = new SoakSampler(http, options.Pid);
        var faults = options.FaultCommand is { } command ? new SoakFaults(command, options.FaultEvery!.Value, options.FaultGrace) : null;

        var records = new ConcurrentQueue<SoakRecord>();
        var samples = new ConcurrentQueue<SoakSample>();
        long start = Stopwatch.GetTimestamp();
        using var stopSampling = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var sampling = EveryAsync(start, options.SampleEvery, async s => Record(await sampler.SampleAsync(s, stopSampling.Token)), stopSampling.Token);
        var rss = new ConcurrentQueue<SoakRssPoint>();
        var tracing = options.Pid is not { } pid ? Task.CompletedTask : EveryAsync(start, options.RssTraceEvery, s =>
        {
            if (SoakSampler.ReadProc(pid).RssMb is { } mb) rss.Enqueue(new SoakRssPoint(s, mb));
            return Task.CompletedTask;
        }, stopSampling.Token);
        var faulting = faults?.RunAsync(start, options.Duration, cancellationToken) ?? Task.CompletedTask;
        var clients = Enumerable.Range(0, options.Clients)
            .Select(i => Task.Run(() => ClientAsync(workload, new Random(options.Seed * 7919 + i), start, options.Duration, records, cancellationToken)))
            .ToList();
        await Task.WhenAll(clients);
        double trafficSeconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
        await faulting;
        stopSampling.Cancel();
        await sampling;
        await tracing;
        Record(await SettleAsync(sampler, start, cancellationToken));
        return SoakReport.From(options, model.Id, openAi, sampler.Source, trafficSeconds,
            records.ToArray(), samples.OrderBy(s => s.Seconds).ToArray(), faults?.Faults ?? [], rss.ToArray());

        void Record(SoakSample sample)
        {
            samples.Enqueue(sample);
            progress?.Invoke(sample);
        }
    }

    private static async Task<SoakModel> ReadModelAsync(HttpClient http, SoakOptions options, CancellationToken ct)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(options.RequestTimeout);
        using var response = await http.GetAsync("/v1/models", timeout.Token);
        if (!response.IsSuccessStatusCode)
            throw new InvalidOperationException($"{options.Url} answered GET /v1/models with {(int)response.StatusCode}: is the model loaded?");
        return SoakModel.Parse(await response.Content.ReadAsStringAsync(timeout.Token)).Capped(options.Tokens);
    }

    /// <summary>The OpenAI route joins the mix unless the service answers 404 (or 405: no such route).</summary>
    private static async Task<bool> ProbeOpenAiAsync(HttpClient http, SoakModel model, CancellationToken ct)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(TimeSpan.FromMinutes(2));
        using var response = await http.PostAsJsonAsync(SoakWorkload.OpenAiRoute, SoakWorkload.OpenAiBody(model, new Random(123)), timeout.Token);
        return response.StatusCode is not (System.Net.HttpStatusCode.NotFound or System.Net.HttpStatusCode.MethodNotAllowed);
    }

    private static async Task ClientAsync(SoakWorkload workload, Random rng, long start, TimeSpan duration,
        ConcurrentQueue<SoakRecord> records, CancellationToken ct)
    {
        while (Stopwatch.GetElapsedTime(start) < duration)
        {
            var record = await workload.NextAsync(rng, start, ct);
            records.Enqueue(record);
            if (!record.Refused) continue;
            var backOff = record.RetryAfterSeconds is { } s ? TimeSpan.FromSeconds(Math.Min(s, MaxBackOff.TotalSeconds)) : TimeSpan.FromSeconds(1);
            var left = duration - Stopwatch.GetElapsedTime(start);
            if (left > TimeSpan.Zero) await Task.Delay(backOff < left ? backOff : left, ct);
        }
    }

    /// <summary>Runs <paramref name="tick"/> (given the seconds into the run) at 0, 1, 2, … × <paramref name="every"/> until cancelled.</summary>
    private static async Task EveryAsync(long start, TimeSpan every, Func<double, Task> tick, CancellationToken ct)
    {
        try
        {
            for (int i = 0; ; i++)
            {
                var wait = every * i - Stopwatch.GetElapsedTime(start);
                if (wait > TimeSpan.Zero) await Task.Delay(wait, ct);
                await tick(Stopwatch.GetElapsedTime(start).TotalSeconds);
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested) { }
    }

    /// <summary>After the traffic: samples every second until the queue and the rows are empty, at most <see cref="SettleLimit"/>.</summary>
    private static async Task<SoakSample> SettleAsync(SoakSampler sampler, long start, CancellationToken ct)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            var sample = await sampler.SampleAsync(Stopwatch.GetElapsedTime(start).TotalSeconds, ct);
            bool settled = sample.Error is null && sample.QueueDepth is 0 or null && sample.RowsInUse is 0 or null;
            if (settled || clock.Elapsed >= SettleLimit) return sample;
            await Task.Delay(TimeSpan.FromSeconds(1), ct);
        }
    }
}
