using System.Globalization;
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

    /// <summary>The service's <c>detailflow_queue_depth</c>: requests submitted and not yet finished.</summary>
    private static async Task<int> QueueDepthAsync(HttpClient client)
    {
        string line = (await client.GetStringAsync("/metrics")).Split('\n').First(l => l.StartsWith("detailflow_queue_depth"));
        string value = line[(line.Contains('}') ? line.IndexOf('}') + 2 : line.IndexOf(' ') + 1)..].Split(' ')[0];
        return (int)double.Parse(value, CultureInfo.InvariantCulture);
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
            ["BatcherOptions__QueueCapacity"] = "250",
            ["BatcherOptions__DrainSeconds"] = drainSeconds.ToString(),
        });
        using var client = service.Client();
        var clock = Stopwatch.StartNew();
        var early = StreamAsync(client, seed: 1, clock);
        // Enough one-at-a-time work that the queue outlasts the posting on a loaded machine (60 once all finished
        // before the last had been counted: 2.1 s of posting under the full suite).
        var posts = Enumerable.Range(0, 200).Select(i => PostAsync(client, 1000 + i, clock)).ToList();
        var late = StreamAsync(client, seed: 2, clock);
        await Task.WhenAny(posts);   // generation is under way; most requests are still queued
        // Every request has reached the service (finished, or counted in its queue) before the signal.
        var streams = new[] { early, late };
        await Eventually(() => QueueDepthAsync(client),
            depth => depth + posts.Count(p => p.IsCompleted) + streams.Count(s => s.IsCompleted) >= posts.Count + streams.Length,
            TimeSpan.FromSeconds(60), "not every request reached the service (queue depth shown)");
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
        var streamed = new[] { await early, await late };
        foreach (var events in streamed) AssertFinalEvent(events, service);
        // The generation running at SIGTERM (a POST or one of the streams: they share the single guided row) was allowed to finish.
        if (drainSeconds > 0)
            Assert.True(ok.Any(o => o.At > signalled) || streamed.Any(e => e.Any(x => x.Type == "completed" && x.At > signalled)),
                $"nothing completed after SIGTERM:\n{service.Output}");
        Assert.Contains("Shutting down: refusing new work", service.Output);
    }
}
