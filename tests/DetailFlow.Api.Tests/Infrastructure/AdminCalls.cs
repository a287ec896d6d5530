using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Net.ServerSentEvents;
using System.Text.Json;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.Caching.Hybrid;
using Microsoft.Extensions.DependencyInjection;

namespace DetailFlow.Api.Tests;

/// <summary>Calls of the admin API shared by the admin tests (in-process host or child process).</summary>
public static class AdminCalls
{
    public static MultipartFormDataContent Upload(object spec, byte[] archive, string fileName = "slice.zip")
    {
        var form = new MultipartFormDataContent { { new StringContent(JsonSerializer.Serialize(spec)), "spec" } };
        var file = new ByteArrayContent(archive);
        file.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        form.Add(file, "archive", fileName);
        return form;
    }

    /// <summary>A tokenizer fine-tune of the tiny model on the Fashion-MNIST slice, batch 4 (add fields by key).</summary>
    public static Dictionary<string, object> TokenizerJob(string name, int steps, int checkpointEvery) => new()
    {
        ["kind"] = "tokenizer", ["name"] = name, ["dataset_path"] = FashionSlice.Folder, ["base_tokenizer"] = TinyModel.TokenizerPath,
        ["steps"] = steps, ["batch_size"] = 4, ["checkpoint_every"] = checkpointEvery,
    };

    /// <summary>
    /// Submits <paramref name="spec"/>, again after Retry-After while the service answers 503 (its Redis not connected
    /// yet, as right after a replica starts on a loaded host; up to 30 s); asserts 202 Accepted and returns the job's id.
    /// </summary>
    public static async Task<string> CreateJob(HttpClient admin, object spec)
    {
        var created = await admin.PostAsJsonAsync("/admin/jobs", spec);
        for (var clock = System.Diagnostics.Stopwatch.StartNew();
             created.StatusCode == HttpStatusCode.ServiceUnavailable && clock.Elapsed < TimeSpan.FromSeconds(30);)
        {
            await Task.Delay(created.Headers.RetryAfter?.Delta ?? TimeSpan.FromSeconds(1));
            created = await admin.PostAsJsonAsync("/admin/jobs", spec);
        }
        Assert.Equal(HttpStatusCode.Accepted, created.StatusCode);
        return (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString()!;
    }

    public static async Task<JsonElement> Job(HttpClient admin, string id) =>
        await admin.GetFromJsonAsync<JsonElement>($"/admin/jobs/{id}");

    /// <summary>The job once <paramref name="until"/> holds for it (read up to <paramref name="seconds"/>).</summary>
    public static Task<JsonElement> WaitFor(HttpClient admin, string id, Func<JsonElement, bool> until, int seconds = 120) =>
        Eventually(() => Job(admin, id), until, TimeSpan.FromSeconds(seconds), $"job {id} never reached the expected state");

    /// <summary>Reads the job's SSE stream to its end: every (event type, job) pair.</summary>
    public static async Task<List<(string Type, JsonElement Job)>> Follow(HttpClient admin, string id, int seconds = 180)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(seconds));
        using var response = await admin.GetAsync($"/admin/jobs/{id}/events", HttpCompletionOption.ResponseHeadersRead, cts.Token);
        response.EnsureSuccessStatusCode();
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        var events = new List<(string, JsonElement)>();
        await foreach (var item in SseParser.Create(await response.Content.ReadAsStreamAsync(cts.Token)).EnumerateAsync(cts.Token))
            if (item.EventType != "heartbeat") events.Add((item.EventType, JsonDocument.Parse(item.Data).RootElement.Clone()));
        return events;
    }

    public static long Step(this JsonElement job) => job.GetProperty("step").GetInt64();
    public static string State(this JsonElement job) => job.GetProperty("state").GetString()!;
}
