using Xunit.Abstractions;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Net.ServerSentEvents;
using System.Text.Json;

namespace DetailFlow.Api.Tests;

/// <summary>
/// SIGTERM while requests are in flight, against the service as a child process: started generations complete (within
/// BatcherOptions:DrainSeconds), queued ones get 503 problem details, SSE streams end with a final event, and the process
/// exits 0 within the drain time plus the shutdown margin.
/// </summary>
public sealed class GracefulShutdownTests(ITestOutputHelper log)
{
    private sealed record Outcome(HttpStatusCode? Status, string? Title, byte[]? Png, TimeSpan At, string? Error);

    private static async Task<Outcome> PostAsync(HttpClient client, long seed, Stopwatch clock)
    {
        try
        {
            using var response = await client.PostAsJsonAsync("/v1/generate", ApiFactory.Body(seed: seed, tokens: 32));
            var body = await response.Content.ReadAsByteArrayAsync();
            string? title = response.Content.Headers.ContentType?.MediaType == "application/problem+json"
                ? JsonDocument.Parse(body).RootElement.GetProperty("title").GetString() : null;
            return new Outcome(response.StatusCode, title, response.StatusCode == HttpStatusCode.OK ? body : null, clock.Elapsed, null);
        }
        catch (HttpRequestException e)
        {
            return new Outcome(null, null, null, clock.Elapsed, e.Message);
        }
    }

    /// <summary>The events of one stream: (type, data, arrival time) in order.</summary>
    private static async Task<List<(string Type, string Data, TimeSpan At)>> StreamAsync(HttpClient client, long seed, Stopwatch clock)
    {
        var events = new List<(string, string, TimeSpan)>();
        using var response = await client.GetAsync($"/v1/generate/stream?class=goldfish&seed={seed}&tokens=32", HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        try
        {
            await foreach (var item in SseParser.Create(await response.Content.ReadAsStreamAsync()).EnumerateAsync())
                events.Add((item.EventType, item.Data, clock.Elapsed));
        }
        catch (HttpIOException e)
        {
            events.Add(("broken", e.Message, clock.Elapsed));
        }
        return events;
    }

    private static void AssertFinalEvent(List<(string Type, string Data, TimeSpan At)> events, ServiceProcess service)
    {
        var last = events.Last(e => e.Type != "heartbeat");
        Assert.True(last.Type is "completed" or "error", $"stream ended with '{last.Type}' ({string.Join(", ", events.Select(e => e.Type))}):\n{service.Output}");
        if (last.Type == "completed") PngInfo.Size(Convert.FromBase64String(JsonDocument.Parse(last.Data).RootElement.GetProperty("png_b64").GetString()!));
        else Assert.Equal(503, JsonDocument.Parse(last.Data).RootElement.GetProperty("status").GetInt32());
    }

    [Theory]
    [InlineData(10)]   // started generations finish
    [InlineData(0)]    // nothing may finish after SIGTERM: started generations are refused too
    public async Task Sigterm_WithRequestsInFlight_DrainsAndExitsZero(int drainSeconds)
    {
        await using var service = await ServiceProcess.StartAsync(new Dictionary<string, string>
        {
            ["BatcherOptions__MaxRows"] = "2",   // one guided request at a time: the rest queue
            ["BatcherOptions__QueueCapacity"] = "100",
            ["BatcherOptions__DrainSeconds"] = drainSeconds.ToString(),
        });
        using var client = service.Client();
        var clock = Stopwatch.StartNew();
        var early = StreamAsync(client, seed: 1, clock);
        var posts = Enumerable.Range(0, 60).Select(i => PostAsync(client, 1000 + i, clock)).ToList();
        var late = StreamAsync(client, seed: 2, clock);
        await Task.WhenAny(posts);   // generation is under way; most requests are still queued
        await Task.Delay(100);
        var signalled = clock.Elapsed;
        service.Terminate();

        int limit = drainSeconds + 5 + 10;   // drain + the host's shutdown margin + process exit slack on a loaded machine
        var exit = await service.WaitForExitAsync(TimeSpan.FromSeconds(limit));
        var exitedAfter = clock.Elapsed - signalled;
        Assert.True(exit is not null, $"still running {limit} s after SIGTERM:\n{service.Output}");
        Assert.True(exit == 0, $"exit code {exit}:\n{service.Output}");

        var outcomes = await Task.WhenAll(posts);
        log.WriteLine($"drain {drainSeconds} s: SIGTERM at {signalled.TotalSeconds:F2} s, exit {exit} {exitedAfter.TotalSeconds:F2} s later; " +
            $"{outcomes.Count(o => o.Status == HttpStatusCode.OK)} ok ({outcomes.Count(o => o.Status == HttpStatusCode.OK && o.At > signalled)} after SIGTERM), " +
            $"{outcomes.Count(o => o.Status == HttpStatusCode.ServiceUnavailable)} × 503");
        Assert.All(outcomes, o => Assert.True(o.Status is HttpStatusCode.OK or HttpStatusCode.ServiceUnavailable,
            $"{o.Status} {o.Title} {o.Error}"));   // accepted requests all got an answer: no resets, no 500s
        var ok = outcomes.Where(o => o.Status == HttpStatusCode.OK).ToList();
        var refused = outcomes.Where(o => o.Status == HttpStatusCode.ServiceUnavailable).ToList();
        Assert.NotEmpty(ok);
        Assert.NotEmpty(refused);
        Assert.All(ok, o => Assert.Equal((32, 32), PngInfo.Size(o.Png!)));
        Assert.All(refused, o => Assert.Equal("Shutting down", o.Title));
        var streams = new[] { await early, await late };
        foreach (var events in streams) AssertFinalEvent(events, service);
        // The generation running at SIGTERM (a POST or one of the streams: they share the single guided row) was allowed to finish.
        if (drainSeconds > 0)
            Assert.True(ok.Any(o => o.At > signalled) || streams.Any(e => e.Any(x => x.Type == "completed" && x.At > signalled)),
                $"nothing completed after SIGTERM:\n{service.Output}");
        Assert.Contains("Shutting down: refusing new work", service.Output);
    }
}

/// <summary>The container HEALTHCHECK command, <c>dotnet DetailFlow.Api.dll --healthcheck</c>, against a live and a dead port.</summary>
public sealed class HealthProbeTests
{
    private static async Task<int> ProbeAsync(params string[] args)
    {
        using var probe = Process.Start(new ProcessStartInfo("dotnet", [ServiceProcess.ApiDll, "--healthcheck", .. args])
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        })!;
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await probe.WaitForExitAsync(cts.Token);
        return probe.ExitCode;
    }

    [Fact]
    public async Task Healthcheck_ExitsZeroWhenServing_OneWhenNot()
    {
        await using (var service = await ServiceProcess.StartAsync())
            Assert.Equal(0, await ProbeAsync($"{service.BaseUrl}/healthz"));
        var dead = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        dead.Start();
        int port = ((IPEndPoint)dead.LocalEndpoint).Port;
        dead.Stop();
        Assert.Equal(1, await ProbeAsync($"http://127.0.0.1:{port}/healthz"));
    }

    [Theory]
    [InlineData("8080", null, "http://127.0.0.1:8080/healthz")]
    [InlineData("9000;9001", "http://+:5000", "http://127.0.0.1:9000/healthz")]
    [InlineData(null, "http://+:5000;http://localhost:5001", "http://127.0.0.1:5000/healthz")]
    [InlineData(null, "http://[::]:7000", "http://127.0.0.1:7000/healthz")]
    [InlineData(null, null, "http://127.0.0.1:8080/healthz")]
    public void DefaultUrl_IsTheServicesOwnPortOnLoopback(string? httpPorts, string? urls, string expected)
    {
        var env = new Dictionary<string, string?> { ["ASPNETCORE_HTTP_PORTS"] = httpPorts, ["ASPNETCORE_URLS"] = urls };
        Assert.Equal(expected, DetailFlow.Api.Hosting.HealthProbe.DefaultUrl(k => env.GetValueOrDefault(k)).ToString());
    }
}
