using System.Globalization;
using System.Text.Json;
using DetailFlow.Cli.Bench;
using Xunit.Abstractions;

namespace DetailFlow.Api.Tests;

/// <summary>
/// A short soak (<see cref="SoakRun"/>, what <c>detailflow bench soak</c> runs) against the service process on the tiny
/// model: 60 s of mixed traffic by 4 clients (<c>DETAILFLOW_SOAK_SECONDS</c> shortens or lengthens it), a harmless
/// fault command twice so the run has phases. Asserts what must hold however long a run lasts: no 5xx, no stream left
/// without an ending, every refusal with Retry-After, malformed bodies refused with 4xx, and rows, queue and threads that
/// do not grow (rows within the engine's size, the queue empty and the rows free at the end, the threads at the end
/// within a margin of those after the warm-up). The RSS slope is printed, not asserted: a minute on a shared machine is
/// too noisy for it (the hour-long runs of docs/soak.md judge it).
/// </summary>
public sealed class SoakTests(ITestOutputHelper output)
{
    private const int Clients = 4;
    private const int MaxRows = 16;   // BatcherOptions:MaxRows (default)

    private static TimeSpan Duration =>
        TimeSpan.FromSeconds(double.TryParse(Environment.GetEnvironmentVariable("DETAILFLOW_SOAK_SECONDS"), CultureInfo.InvariantCulture, out double s) && s > 0 ? s : 60);

    [Fact]
    public async Task Soak_MixedTrafficWithFaults_NoServerErrorsNoStuckStreamsAndNoGrowthOfRowsQueueOrThreads()
    {
        await using var service = await ServiceProcess.StartAsync(new Dictionary<string, string> { ["BatcherOptions__MaxRows"] = $"{MaxRows}" });
        var duration = Duration;
        var options = new SoakOptions(new Uri(service.BaseUrl), duration, Clients)
        {
            WarmUp = duration / 3, SampleEvery = TimeSpan.FromSeconds(Math.Max(1, duration.TotalSeconds / 12)), Pid = service.Pid,
            FaultCommand = "sleep 2; echo fault over", FaultEvery = duration / 3, RequestTimeout = TimeSpan.FromSeconds(90), Seed = 17,
        };
        var report = await SoakRun.RunAsync(options, s => output.WriteLine(SoakJson(s)), CancellationToken.None);
        output.WriteLine(JsonSerializer.Serialize(report with { Samples = [] }, new JsonSerializerOptions(SoakReport.JsonOptions) { WriteIndented = true }));
        output.WriteLine($"RSS slope after warm-up (not asserted): {report.Memory.SlopeMbPerMin} MB/min; verdict: {report.Verdict}");

        Assert.False(service.HasExited, service.Output);
        Assert.Equal(0, report.ServerErrors);
        Assert.Equal(0, report.TransportErrors);
        Assert.Equal(0, report.Streams.Unfinished);
        Assert.Equal(0, report.Refusals.WithoutRetryAfter);
        Assert.Equal(0, report.MalformedAccepted);
        // Every kind of the mix was sent, and answered as it should be at least once.
        string[] kinds = [SoakKinds.Generate, SoakKinds.Repeat, SoakKinds.Stream, SoakKinds.StreamCut, SoakKinds.Refine, SoakKinds.Batch,
            SoakKinds.BadJson, SoakKinds.BadType, SoakKinds.BadClass];
        foreach (var kind in kinds) Assert.True(report.Kinds.FirstOrDefault(k => k.Kind == kind)?.Ok > 0, $"no successful '{kind}'");
        Assert.True(report.RepeatsCacheHits > 0, $"{report.RepeatsCacheHits} of {report.RepeatsOk} repeats served from the cache");
        Assert.Equal(2, report.Faults.Count);
        Assert.All(report.Faults, f => Assert.Equal(0, f.ExitCode));
        Assert.Equal(["before faults", "fault 1", "after fault 1", "fault 2", "after fault 2"], report.Phases.Select(p => p.Phase));

        // Bounded: rows never beyond the engine's, the queue never beyond what the clients can have outstanding (n = 4
        // each, plus cut streams whose rows the engine drops at its next step), both empty once the traffic is over.
        var samples = report.Samples.Where(s => s.Error is null).ToArray();
        Assert.True(samples.Length >= 4, $"{samples.Length} samples");
        Assert.All(samples, s => Assert.InRange(s.RowsInUse!.Value, 0, MaxRows));
        Assert.All(samples, s => Assert.InRange(s.QueueDepth!.Value, 0, 8 * Clients));
        Assert.Equal(0, report.Threads.QueueDepthEnd);
        Assert.Equal(0, report.Threads.RowsInUseEnd);
        int baseline = report.Threads.AfterWarmup!.Value, last = report.Threads.Last!.Value;
        Assert.True(last <= baseline + SoakReport.ThreadMargin(baseline), $"threads {baseline} after the warm-up, {last} at the end");
        Assert.NotNull(report.Memory.SlopeMbPerMin);

        // The service's own thread gauge (what a run without --pid uses) agrees with /proc.
        using var client = service.Client();
        var metrics = SoakSampler.Parse(await client.GetStringAsync("/metrics"));
        int procThreads = SoakSampler.ReadProc(service.Pid).Threads!.Value;
        Assert.InRange(metrics["detailflow_process_threads"], procThreads - 4, procThreads + 4);
        Assert.Equal(0, metrics["detailflow_rows_in_use"]);
    }

    private static string SoakJson(SoakSample s) => JsonSerializer.Serialize(s, SoakReport.JsonOptions);
}
