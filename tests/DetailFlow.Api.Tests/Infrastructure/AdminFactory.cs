using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Net.ServerSentEvents;
using System.Text.Json;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.Caching.Hybrid;
using Microsoft.Extensions.DependencyInjection;

namespace DetailFlow.Api.Tests;

/// <summary>
/// The service with the admin API on (key <see cref="Key"/>), jobs in a fresh data folder, small upload limits, and its
/// cache wrapped in a <see cref="GatedHybridCache"/> (so a request can be held in flight across a model swap).
/// </summary>
public class AdminFactory : ApiFactory
{
    public const string Key = "test-admin-key-0123456789";
    public const long UploadLimit = 512 * 1024;

    public AdminFactory() : this(null) { }

    protected AdminFactory(string? dataFolder) =>
        DataFolder = dataFolder ?? Path.Combine(Path.GetTempPath(), "detailflow-admin-" + Guid.NewGuid().ToString("N")[..8]);

    public string DataFolder { get; }

    public GatedHybridCache Cache => (GatedHybridCache)Services.GetRequiredService<HybridCache>();

    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["Admin:ApiKey"] = Key, ["Admin:DataFolder"] = DataFolder, ["Admin:MaxUploadBytes"] = UploadLimit.ToString(),
        ["Admin:TrainingThreads"] = "1",
    };

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        builder.ConfigureTestServices(GatedHybridCache.Replace);
    }

    /// <summary>A client that sends the admin key.</summary>
    public HttpClient Admin()
    {
        var client = Client();
        client.DefaultRequestHeaders.Add("X-Api-Key", Key);
        return client;
    }

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        if (OwnsDataFolder && Directory.Exists(DataFolder)) Directory.Delete(DataFolder, recursive: true);
    }

    protected virtual bool OwnsDataFolder => true;
}

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

    public static async Task<JsonElement> Job(HttpClient admin, string id) =>
        await admin.GetFromJsonAsync<JsonElement>($"/admin/jobs/{id}");

    /// <summary>Polls the job until <paramref name="until"/> holds (up to <paramref name="seconds"/>).</summary>
    public static async Task<JsonElement> WaitFor(HttpClient admin, string id, Func<JsonElement, bool> until, int seconds = 120)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        JsonElement job;
        do
        {
            job = await Job(admin, id);
            if (until(job)) return job;
            await Task.Delay(50);
        } while (DateTime.UtcNow < deadline);
        throw new TimeoutException($"job {id} never reached the expected state; last: {job}");
    }

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
