using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using StackExchange.Redis;

namespace DetailFlow.Api.Tests;

/// <summary>
/// Scale-out with Redis: a job accepted by one replica is run by exactly one worker; a job whose lease is lost is taken
/// over and continues from its checkpoint; an activation on one replica is applied by the others, and a replica that
/// starts later serves the activated model.
/// </summary>
public sealed class AdminReplicaTests(Replicas replicas) : IClassFixture<Replicas>
{
    private static Dictionary<string, object> Spec(string name, int steps, int every = 3) => AdminCalls.TokenizerJob(name, steps, every);

    [Fact]
    public async Task JobsAcceptedByOneReplica_EachRunByExactlyOneWorker_ActivationReachesEveryReplica()
    {
        using var a = replicas.A.Admin();
        using var b = replicas.B.Admin();
        var ids = new[] { await AdminCalls.CreateJob(a, Spec("r1", 6)), await AdminCalls.CreateJob(b, Spec("r2", 6)), await AdminCalls.CreateJob(a, Spec("r3", 6)) };
        foreach (string id in ids)
        {
            var done = await AdminCalls.WaitFor(b, id, j => j.State() is "completed" or "failed");
            Assert.Equal("completed", done.State());
            Assert.Equal(1, done.GetProperty("runs").GetInt32());   // one worker, one run
            Assert.Contains(done.GetProperty("owner").GetString(), new[] { "replica-a", "replica-b" });
            Assert.Equal(done.GetRawText(), (await AdminCalls.Job(a, id)).GetRawText());   // one shared record
        }

        // Activate the first job's tokenizer on A: B applies the announcement; a replica started later reads it from Redis.
        var activated = await a.PostAsJsonAsync("/admin/models/activate", new { job_id = ids[0] });
        Assert.Equal(HttpStatusCode.OK, activated.StatusCode);
        string fingerprint = (await activated.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("fingerprint").GetString()!;
        Assert.Equal(fingerprint, await ServedFingerprint(replicas.A, fingerprint));
        Assert.Equal(fingerprint, await ServedFingerprint(replicas.B, fingerprint));
        await using var later = new ReplicaFactory(replicas.Redis, replicas.DataFolder, "replica-c");
        await ((IAsyncLifetime)later).InitializeAsync();
        Assert.Equal(fingerprint, await ServedFingerprint(later, fingerprint));
    }

    [Fact]
    public async Task LeaseLost_AnotherWorkerTakesTheJobOver_ItContinuesFromItsCheckpoint()
    {
        using var a = replicas.A.Admin();
        // Long enough (~5 s at the tiny tokenizer's ~60 steps/s) that the holder's next renewal (every LeaseSeconds / 3 = 1 s)
        // comes before it could finish: with 60 steps it sometimes completed first and nothing was taken over.
        const int total = 300;
        string id = await AdminCalls.CreateJob(a, Spec("taken-over", total, every: 4));
        var running = await AdminCalls.WaitFor(a, id, j => j.State() == "running" && j.Step() >= 6);
        string owner = running.GetProperty("owner").GetString()!;

        // The holder loses its lease to another worker (as after a renewal it missed): its renewal fails, it stops without
        // recording, and once that lease has expired a worker's scan takes the job over from the last checkpoint. (A lease
        // that merely vanished, as with a Redis restart, the holder takes again: JobStoreOutageTests.)
        using (var redis = await ConnectionMultiplexer.ConnectAsync(replicas.Redis.ConnectionString))
            Assert.True(await redis.GetDatabase().StringSetAsync($"detailflow:jobs:lease:{id}", "replica-elsewhere", TimeSpan.FromSeconds(2)));
        var done = await AdminCalls.WaitFor(a, id, j => j.State() is "completed" or "failed" or "cancelled", seconds: 180);
        Assert.Equal("completed", done.State());
        Assert.Equal(total, done.Step());
        Assert.True(done.GetProperty("runs").GetInt32() >= 2, $"taken over: {done}");
        var steps = done.GetProperty("losses").EnumerateArray().Select(p => p.GetProperty("step").GetInt64()).ToList();
        // Continued, not restarted: steps only rise (none repeated) to the total; the points the lost holder trained
        // after its last stored progress (up to its final checkpoint, where the new holder resumed) are the only gap.
        Assert.Equal(steps.Order().Distinct(), steps);
        Assert.Equal(total, steps[^1]);
        Assert.True(steps.Zip(steps.Skip(1)).Count(p => p.Second - p.First > 1) <= 1, string.Join(",", steps));
        Assert.NotNull(owner);
    }

    /// <summary>
    /// A Redis restart without persistence loses the queue; the job's record comes back from its folder still
    /// <c>queued</c>. An idle worker's scan runs it (once: the lease decides).
    /// </summary>
    [Fact]
    public async Task QueuedJobMissingFromTheQueue_AnIdleWorkerRunsIt()
    {
        using var a = replicas.A.Admin();
        string template = await AdminCalls.CreateJob(a, Spec("template", 3));
        await AdminCalls.WaitFor(a, template, j => j.State() is "completed" or "failed");

        // The record as a fresh job would have it, queued a minute ago, with no entry in the queue.
        using var redis = await ConnectionMultiplexer.ConnectAsync(replicas.Redis.ConnectionString);
        var db = redis.GetDatabase();
        var record = JsonNode.Parse((string)(await db.HashGetAsync("detailflow:jobs", template))!)!.AsObject();
        const string id = "lostfromqueue01";
        var queuedAt = DateTimeOffset.UtcNow.AddMinutes(-1);
        record["id"] = id;
        record["name"] = "lost from the queue";
        record["state"] = "queued";
        record["step"] = 0;
        record["runs"] = 0;
        record["losses"] = new JsonArray();
        record["last_checkpoint"] = null;
        record["owner"] = null;
        record["folder"] = Path.Combine(replicas.DataFolder, "jobs", id);
        record["created"] = queuedAt;
        record["updated"] = queuedAt;
        await db.HashSetAsync("detailflow:jobs", id, record.ToJsonString());
        Assert.Equal(0, await db.ListLengthAsync("detailflow:jobs:queue"));

        var done = await AdminCalls.WaitFor(a, id, j => j.State() is "completed" or "failed", seconds: 60);
        Assert.Equal("completed", done.State());
        Assert.Equal(1, done.GetProperty("runs").GetInt32());
        Assert.Equal(3, done.Step());
    }

    private static async Task<string?> ServedFingerprint(ApiFactory replica, string want)
    {
        using var client = replica.CreateClient();
        return await Eventually(async () => (await client.GetFromJsonAsync<JsonElement>("/v1/models")).GetProperty("data")[0].GetProperty("fingerprint").GetString(),
            served => served == want, TimeSpan.FromSeconds(10), $"the replica never served model {want}");
    }
}
