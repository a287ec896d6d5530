using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Diagnostics.Metrics;
using DetailFlow.Api.Hosting;
using Microsoft.Extensions.DependencyInjection;

namespace DetailFlow.Api.Tests;

/// <summary>
/// Admin fine-tune jobs on the tiny model and a Fashion-MNIST slice: an uploaded ar job followed over SSE to completion,
/// activated while a request holds the old model (it finishes on the old one; new requests get the new fingerprint);
/// cancelling a running job keeps its checkpoint.
/// </summary>
public sealed class AdminJobTests(AdminFactory api) : IClassFixture<AdminFactory>
{
    /// <summary>Steps of the followed ar job: enough that the event stream, which reads the record when woken, sees one between the first and the last (at 12 the tiny model's job could end before it looked).</summary>
    private const int Steps = 48;

    [Fact]
    public async Task ArJob_FollowedToCompletion_ActivatedWhileARequestHoldsTheOldModel()
    {
        using var admin = api.Admin();
        var telemetry = api.Services.GetRequiredService<DetailFlowTelemetry>();
        long trained = 0, completed = 0;
        using var listener = new MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (ReferenceEquals(instrument, telemetry.JobSteps) || ReferenceEquals(instrument, telemetry.JobsFinished)) l.EnableMeasurementEvents(instrument);
            },
        };
        listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
        {
            var t = tags.ToArray().ToDictionary(kv => kv.Key, kv => kv.Value as string);
            if (t["kind"] != "ar") return;
            if (ReferenceEquals(instrument, telemetry.JobSteps)) Interlocked.Add(ref trained, value);
            else if (t["state"] == "completed") Interlocked.Add(ref completed, value);
        });
        listener.Start();
        var spec = new
        {
            kind = "ar", name = "fashion-ar", base_tokenizer = TinyModel.TokenizerPath, base_gpt = TinyModel.GptPath,
            steps = Steps, batch_size = 8, checkpoint_every = 16, lr = 1e-3,
        };
        var created = await admin.PostAsync("/admin/jobs", AdminCalls.Upload(spec, FashionSlice.Zip()));
        Assert.Equal(HttpStatusCode.Accepted, created.StatusCode);
        var job = await created.Content.ReadFromJsonAsync<JsonElement>();
        string id = job.GetProperty("id").GetString()!;
        Assert.Equal($"/admin/jobs/{id}", created.Headers.Location?.OriginalString);
        Assert.Contains(job.State(), new[] { "queued", "running" });

        var events = await AdminCalls.Follow(admin, id);
        Assert.Equal("completed", events[^1].Type);
        var steps = events.Where(e => e.Type == "progress").Select(e => e.Job.Step()).ToList();
        Assert.Contains(steps, s => s > 0 && s < Steps);                    // progress arrived while it trained
        Assert.Equal(steps.Order(), steps);
        var done = events[^1].Job;
        Assert.Equal(Steps, done.Step());
        Assert.Equal(Steps, done.GetProperty("total_steps").GetInt64());
        var losses = done.GetProperty("losses").EnumerateArray().ToList();
        Assert.Equal(Enumerable.Range(1, Steps).Select(i => (long)i), losses.Select(p => p.GetProperty("step").GetInt64()));
        Assert.All(losses, p => Assert.True(double.IsFinite(p.GetProperty("loss").GetDouble())));
        Assert.True(done.GetProperty("steps_per_second").GetDouble() > 0);
        string checkpoint = done.GetProperty("last_checkpoint").GetString()!;
        Assert.EndsWith($"{Steps:D7}.pt", checkpoint);
        Assert.True(File.Exists(checkpoint));
        Assert.StartsWith(Path.Combine(api.DataFolder, "jobs", id), checkpoint);
        await Eventually(() => Interlocked.Read(ref completed) > 0, TimeSpan.FromSeconds(5), "the completed job was never counted");   // counted right after the final save
        Assert.Equal(1, Interlocked.Read(ref completed));
        Assert.Equal(Steps, Interlocked.Read(ref trained));   // detailflow.jobs.steps

        // A request rents the old model and is held in flight (at the cache gate) across the swap.
        using var client = api.Client();
        string oldFingerprint = (await client.GetFromJsonAsync<JsonElement>("/v1/models")).GetProperty("data")[0].GetProperty("fingerprint").GetString()!;
        var held = client.PostAsJsonAsync("/v1/generate", ApiFactory.Body(@class: 1, seed: 4242, tokens: 32));
        await api.Cache.Caller(1);

        var activated = await admin.PostAsJsonAsync("/admin/models/activate", new { job_id = id });
        Assert.Equal(HttpStatusCode.OK, activated.StatusCode);
        string newFingerprint = (await activated.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("fingerprint").GetString()!;
        Assert.NotEqual(oldFingerprint, newFingerprint);
        // The new model's engine came with it, before its first request: two KV caches until the old model retires.
        await KvCacheGauge.WaitForEngines(api.Services, 2, "the activated model's engine was not built with it");

        var after = await client.PostAsJsonAsync("/v1/generate", new { @class = 1, tokens = 32 });   // unseeded: not held
        Assert.Equal(HttpStatusCode.OK, after.StatusCode);
        Assert.Equal(newFingerprint, after.Headers.GetValues("X-Model-Fingerprint").Single());
        Assert.Equal(newFingerprint, (await client.GetFromJsonAsync<JsonElement>("/v1/models")).GetProperty("data")[0].GetProperty("fingerprint").GetString());
        Assert.False(held.IsCompleted);
        var models = await admin.GetFromJsonAsync<JsonElement>("/admin/models");
        Assert.Equal(newFingerprint, models.GetProperty("active").GetString());
        Assert.Equal(1, models.GetProperty("retired_in_use").GetInt32());   // the old model lives on for the held request

        api.Cache.Open();
        var old = await held;
        Assert.Equal(HttpStatusCode.OK, old.StatusCode);
        Assert.Equal(oldFingerprint, old.Headers.GetValues("X-Model-Fingerprint").Single());
        var png = await old.Content.ReadAsByteArrayAsync();
        Assert.Equal(32, PngInfo.Size(png).Width);

        await Eventually(() => admin.GetFromJsonAsync<JsonElement>("/admin/models"), m => m.GetProperty("retired_in_use").GetInt32() == 0,
            TimeSpan.FromSeconds(5), "the retired model was never disposed after its last row left");
        await KvCacheGauge.WaitForEngines(api.Services, 1, "the retired model's KV cache is still counted");

        // The same seed on the new model is a different cache entry (the key carries the fingerprint).
        var again = await client.PostAsJsonAsync("/v1/generate", ApiFactory.Body(@class: 1, seed: 4242, tokens: 32));
        Assert.Equal("miss", again.Headers.GetValues("X-Cache").Single());
        Assert.Equal(newFingerprint, again.Headers.GetValues("X-Model-Fingerprint").Single());
    }

    [Fact]
    public async Task RunningJob_Cancelled_StopsWithItsCheckpointKept()
    {
        using var admin = api.Admin();
        string id = await AdminCalls.CreateJob(admin, AdminCalls.TokenizerJob("to-cancel", steps: 100_000, checkpointEvery: 3));
        await AdminCalls.WaitFor(admin, id, j => j.State() == "running" && j.Step() >= 4);

        var cancel = await admin.DeleteAsync($"/admin/jobs/{id}");
        Assert.Equal(HttpStatusCode.Accepted, cancel.StatusCode);
        var job = await AdminCalls.WaitFor(admin, id, j => j.State() != "running", seconds: 60);
        Assert.Equal("cancelled", job.State());
        Assert.InRange(job.Step(), 4, 99_999);
        string checkpoint = job.GetProperty("last_checkpoint").GetString()!;
        Assert.True(File.Exists(checkpoint));
        Assert.Equal(job.Step(), long.Parse(Path.GetFileNameWithoutExtension(checkpoint)));   // the stop wrote a checkpoint at its step
        Assert.Equal(HttpStatusCode.Conflict, (await admin.DeleteAsync($"/admin/jobs/{id}")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await admin.DeleteAsync("/admin/jobs/nope")).StatusCode);
    }

    [Theory]
    [InlineData("""{"kind":"gan","name":"x","dataset_path":"@slice"}""", "kind")]
    [InlineData("""{"kind":"ar","name":"x","dataset_path":"@slice"}""", "base_tokenizer")]
    [InlineData("""{"kind":"tokenizer","name":"x","dataset_path":"/no/such/folder"}""", "dataset_path")]
    [InlineData("""{"kind":"tokenizer","name":"x","dataset_path":"@slice","steps":0}""", "steps")]
    [InlineData("""{"kind":"tokenizer","name":"","dataset_path":"@slice"}""", "name")]
    [InlineData("""{"kind":"tokenizer","name":"x","dataset_path":"@slice","batch_size":-1}""", "batch_size")]
    [InlineData("""{"kind":"tokenizer","name":"x"}""", "dataset_path")]
    [InlineData("""{"kind":"tokenizer","name":"x","dataset_path":"@slice","lr":"fast"}""", "body")]
    public async Task BadSpec_400NamingTheField_NothingWritten(string json, string field)
    {
        using var admin = api.Admin();
        int before = JobFolders();
        var response = await admin.PostAsync("/admin/jobs",
            new StringContent(json.Replace("@slice", FashionSlice.Folder), System.Text.Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), $"errors should name '{field}': {problem}");
        Assert.Equal(before, JobFolders());
    }

    public static TheoryData<string, int, string> BadArchives => new()
    {
        { "traversal", 400, ".." }, { "deep-traversal", 400, ".." }, { "absolute", 400, "absolute" }, { "symlink", 400, "link" },
        { "text-file", 422, "not an image" }, { "fake-png", 422, "does not decode" }, { "oversized", 413, "larger" }, { "garbage", 400, "readable" },
    };

    [Theory]
    [MemberData(nameof(BadArchives))]
    public async Task BadArchive_4xx_LeavesNothingBehind(string kind, int status, string message)
    {
        using var admin = api.Admin();
        string absolute = Path.Combine(Path.GetTempPath(), $"detailflow-abs-{Guid.NewGuid():N}.png");
        var archive = BadArchive.Build(kind, absolute);
        int before = JobFolders();
        var spec = new { kind = "tokenizer", name = "bad-" + kind, steps = 5 };
        HttpResponseMessage response;
        try { response = await admin.PostAsync("/admin/jobs", AdminCalls.Upload(spec, archive, kind == "symlink" ? "slice.tar" : "slice.zip")); }
        catch (HttpRequestException) when (kind == "oversized")
        {
            // The service refused the body past the limit and closed the connection while the client was still sending
            // it (the client then sees a broken pipe, not the 413): what must hold is that nothing was left behind.
            Assert.Equal(before, JobFolders());
            return;
        }
        string body = await response.Content.ReadAsStringAsync();
        Assert.True(status == (int)response.StatusCode, $"{kind}: {(int)response.StatusCode} {body}");
        Assert.True(body.Contains(message) && body.Contains("\"archive\""), $"{kind}: {body}");
        Assert.Equal(before, JobFolders());
        Assert.False(File.Exists(absolute));
        Assert.False(File.Exists(Path.Combine(api.DataFolder, "x.png")));
        Assert.False(File.Exists(Path.Combine(api.DataFolder, "jobs", "x.png")));
        Assert.DoesNotContain(Directory.GetFiles(api.DataFolder), f => Path.GetFileName(f) != "jobs.json");
        Assert.Empty(Directory.EnumerateFileSystemEntries(Path.GetTempPath(), "detailflow-abs-*"));
    }

    [Fact]
    public async Task ApiKey_MissingIs401_WrongIs403()
    {
        using var none = api.Client();
        var missing = await none.GetAsync("/admin/jobs");
        Assert.Equal(HttpStatusCode.Unauthorized, missing.StatusCode);
        Assert.Equal("application/problem+json", missing.Content.Headers.ContentType?.MediaType);
        using var wrong = api.Client();
        wrong.DefaultRequestHeaders.Add("X-Api-Key", AdminFactory.Key + "x");
        Assert.Equal(HttpStatusCode.Forbidden, (await wrong.GetAsync("/admin/jobs")).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await wrong.PostAsJsonAsync("/admin/models/activate", new { job_id = "x" })).StatusCode);
        using var admin = api.Admin();
        Assert.Equal(HttpStatusCode.OK, (await admin.GetAsync("/admin/jobs")).StatusCode);
    }

    private int JobFolders()
    {
        string jobs = Path.Combine(api.DataFolder, "jobs");
        return Directory.Exists(jobs) ? Directory.GetFileSystemEntries(jobs).Length : 0;
    }
}
