using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using StackExchange.Redis;
using Xunit.Abstractions;

namespace DetailFlow.Api.Tests;

/// <summary>
/// Scale-out of admin jobs with real processes sharing Redis: a job submitted to either replica is run exactly once
/// (one worker, one run from step 0 to the end); killing (SIGKILL) the replica that runs a job lets the other take it
/// over once the lease expires and finish it from the last checkpoint; an activation on A is applied by B.
/// </summary>
public sealed class ReplicaJobTests(AdminReplicaSet replicas, ITestOutputHelper log) : IClassFixture<AdminReplicaSet>
{
    private static Dictionary<string, object> Spec(string name, int steps, int every)
    {
        var spec = AdminCalls.TokenizerJob(name, steps, every);
        spec["keep_last"] = 1000;
        return spec;
    }

    /// <summary>The steps of the job's checkpoint files (names <c>NNNNNNN.pt</c>), ascending.</summary>
    private static List<long> CheckpointSteps(JsonElement job) =>
        Directory.GetFiles(Path.Combine(job.GetProperty("folder").GetString()!, "run", "checkpoints"), "*.pt")
            .Select(f => long.Parse(Path.GetFileNameWithoutExtension(f))).Order().ToList();

    private static List<long> LossSteps(JsonElement job) =>
        job.GetProperty("losses").EnumerateArray().Select(p => p.GetProperty("step").GetInt64()).ToList();

    /// <summary>Log lines of <paramref name="replica"/> that mention job <paramref name="id"/> and contain <paramref name="text"/>.</summary>
    private static int Lines(ServiceProcess replica, string id, string text) =>
        replica.Output.Split('\n').Count(l => l.Contains($"Job {id} ") && l.Contains(text));

    /// <summary>
    /// Waits (up to 10 s) until <paramref name="replica"/>'s log shows the line: a job's record is stored as completed before
    /// its log line has passed the console logger's queue and the process's output pipe.
    /// </summary>
    private static Task LoggedAsync(ServiceProcess replica, string id, string text) =>
        Eventually(() => Lines(replica, id, text) > 0, TimeSpan.FromSeconds(10), $"{replica.Name} never logged \"{text}\" for job {id}");

    [Fact]
    public async Task JobsSubmittedToEitherReplica_EachRunExactlyOnce()
    {
        var clock = Stopwatch.StartNew();
        using var a = replicas.A.Admin();
        using var b = replicas.B.Admin();
        const int steps = 6, every = 3;
        var ids = new List<string>();
        for (int i = 0; i < 3; i++) ids.Add(await AdminCalls.CreateJob(a, Spec($"once-a{i}", steps, every)));
        ids.Add(await AdminCalls.CreateJob(b, Spec("once-b0", steps, every)));

        foreach (string id in ids)
        {
            var done = await AdminCalls.WaitFor(a, id, j => j.State() is "completed" or "failed" or "cancelled" or "interrupted", seconds: 240);
            string context = $"{done}\nA:\n{replicas.A.Output}\nB:\n{replicas.B.Output}";
            Assert.True(done.State() == "completed", $"not completed: {context}");
            Assert.Equal(steps, done.Step());
            Assert.Equal(1, done.GetProperty("runs").GetInt32());   // one worker, one run
            var runner = replicas.ByOwner(done.GetProperty("owner").GetString()!);
            Assert.Equal(done.GetRawText(), (await AdminCalls.Job(b, id)).GetRawText());   // one shared record
            Assert.Equal(Enumerable.Range(1, steps).Select(s => (long)s), LossSteps(done));   // step 1 to the end, no step twice
            Assert.Equal([every, 2 * every], CheckpointSteps(done));   // one run's checkpoints
            // Exactly one worker started it, from step 0, and recorded its completion; the other replica never ran it.
            await LoggedAsync(runner, id, "Completed at step 6");
            Assert.True(Lines(runner, id, "started at step 0 of 6") == 1, $"{runner.Name} started it {Lines(runner, id, "started at step")} times: {context}");
            Assert.True(Lines(runner, id, "Completed at step 6") == 1, $"{runner.Name} completed it {Lines(runner, id, "Completed at step")} times: {context}");
            var other = replicas.Other(runner);
            Assert.True(Lines(other, id, "started at step") == 0, $"{other.Name} (not the owner) started it too: {context}");
        }
        using var redis = await ConnectionMultiplexer.ConnectAsync(replicas.Set.Redis.ConnectionString);
        Assert.Equal(0, await redis.GetDatabase().ListLengthAsync("detailflow:jobs:queue"));   // nothing left to run again
        log.WriteLine($"{ids.Count} jobs run once each in {clock.Elapsed.TotalSeconds:F1} s, owners: " +
                      string.Join(",", await Task.WhenAll(ids.Select(async id => (await AdminCalls.Job(a, id)).GetProperty("owner").GetString()))));
    }

    [Fact]
    public async Task RunnerKilled_OtherReplicaTakesTheJobOverFromItsCheckpoint_ActivationOnAReachesB()
    {
        var clock = Stopwatch.StartNew();
        const int total = 40, every = 4;
        string id;
        using (var a = replicas.A.Admin()) id = await AdminCalls.CreateJob(a, Spec("taken-over", total, every));

        // Find the replica running it once it has written a checkpoint or two.
        JsonElement running;
        using (var a = replicas.A.Admin())
            running = await AdminCalls.WaitFor(a, id, j => j.State() == "running" && j.Step() > 2 * every
                && j.GetProperty("last_checkpoint").ValueKind == JsonValueKind.String, seconds: 180);
        var victim = replicas.ByOwner(running.GetProperty("owner").GetString()!);
        var survivor = replicas.Other(victim);
        string survivorId = AdminReplicaSet.InstanceId(survivor.Name);
        using var admin = survivor.Admin();
        var follow = AdminCalls.Follow(admin, id, seconds: 300);   // the survivor's view of the job, every change

        using var redis = await ConnectionMultiplexer.ConnectAsync(replicas.Set.Redis.ConnectionString);
        victim.Kill();
        var killedAt = DateTime.UtcNow;
        Assert.True(victim.HasExited);
        // The dead replica's lease is still there: nobody may take the job before it expires.
        var lease = await redis.GetDatabase().StringGetWithExpiryAsync($"detailflow:jobs:lease:{id}");
        Assert.Equal(AdminReplicaSet.InstanceId(victim.Name), lease.Value.ToString());
        Assert.NotNull(lease.Expiry);
        var atKill = await AdminCalls.Job(admin, id);
        long checkpoint = CheckpointSteps(atKill)[^1];   // where a resumed run continues (the dead process writes nothing more)
        Assert.InRange(checkpoint, 2 * every, total - 1);
        log.WriteLine($"{victim.Name} killed at step ~{atKill.Step()} (checkpoint {checkpoint}) after {clock.Elapsed.TotalSeconds:F1} s");

        // The survivor takes it over after the lease expires (not before), and completes it. Each look reads the owner
        // first and the lease second: the dead replica's lease cannot come back, so an owner that is already the
        // survivor while that lease is still there means the job was taken before the lease expired.
        string victimId = AdminReplicaSet.InstanceId(victim.Name);
        var looks = new List<(string? Owner, string? Lease)>();
        var taken = await Eventually(async () =>
        {
            var job = await AdminCalls.Job(admin, id);
            string? holder = await redis.GetDatabase().StringGetAsync($"detailflow:jobs:lease:{id}");
            looks.Add((job.GetProperty("owner").GetString(), holder));
            return job;
        }, j => j.GetProperty("owner").GetString() == survivorId, TimeSpan.FromSeconds(120), $"{survivor.Name} never took job {id} over");
        Assert.Equal(2, taken.GetProperty("runs").GetInt32());
        Assert.DoesNotContain(looks, l => l.Owner == survivorId && l.Lease == victimId);
        Assert.Contains(looks, l => l.Owner != survivorId);   // it waited for the lease: the job stayed the dead replica's a while
        log.WriteLine($"taken over by {survivor.Name} after {looks.Count} looks (lease left at the kill: {lease.Expiry!.Value.TotalSeconds:F1} s)");
        var restart = replicas.Set.RestartAsync(victim);   // meanwhile, bring the killed replica back (same instance id)

        var events = await follow;
        var done = events[^1].Job;
        Assert.True(events[^1].Type == "completed", $"{events[^1].Type}: {done}\n{survivor.Output}");
        Assert.Equal(total, done.Step());
        Assert.Equal(survivorId, done.GetProperty("owner").GetString());
        Assert.Equal(2, done.GetProperty("runs").GetInt32());
        log.WriteLine($"completed after {clock.Elapsed.TotalSeconds:F1} s");

        // Continued from the checkpoint, not from 0: the survivor's training steps all lie beyond it, it wrote only the
        // checkpoints after it (those up to it are the dead replica's files, untouched), and the curve has each step once.
        var resumed = events.Where(e => e.Job.GetProperty("owner").GetString() == survivorId && e.Job.GetProperty("phase").ValueKind == JsonValueKind.String
                                        && e.Job.GetProperty("phase").GetString() == "training").Select(e => e.Job.Step()).ToList();
        Assert.NotEmpty(resumed);
        // The survivor reports the checkpoint's step at once (never the dead worker's later step, never 0) and only moves on.
        Assert.True(resumed.Min() >= checkpoint, $"resumed from {checkpoint}, steps seen: {string.Join(",", resumed)}");
        Assert.InRange(resumed.Min(), checkpoint, checkpoint + 2 * every);
        Assert.True(resumed.Zip(resumed.Skip(1)).All(p => p.First <= p.Second), $"the step went backwards: {string.Join(",", resumed)}");
        await LoggedAsync(survivor, id, "Completed at step 40");
        Assert.Equal(1, Lines(survivor, id, "started at step"));
        Assert.Equal(1, Lines(survivor, id, "Completed at step 40"));
        Assert.Equal(Enumerable.Range(1, total / every).Select(i => (long)(i * every)), CheckpointSteps(done));
        string checkpoints = Path.Combine(done.GetProperty("folder").GetString()!, "run", "checkpoints");
        foreach (long step in CheckpointSteps(done))
        {
            var written = File.GetLastWriteTimeUtc(Path.Combine(checkpoints, $"{step:D7}.pt"));
            if (step <= checkpoint) Assert.True(written < killedAt, $"checkpoint {step} was rewritten after the kill");
            else Assert.True(written > killedAt, $"checkpoint {step} is older than the kill");
        }
        var losses = LossSteps(done);
        Assert.Equal(losses.Order().Distinct(), losses);
        Assert.Equal(total, losses[^1]);
        Assert.Equal(Enumerable.Range((int)checkpoint + 1, total - (int)checkpoint).Select(s => (long)s), losses.Where(s => s > checkpoint));

        // Activation on A is applied on B: B's generations carry the new model's fingerprint within seconds.
        await restart;
        using var onA = replicas.A.Admin();
        using var b = replicas.B.Client();
        string before = (await Generate(b)).Fingerprint;
        var activated = await onA.PostAsJsonAsync("/admin/models/activate", new { job_id = id });
        Assert.Equal(HttpStatusCode.OK, activated.StatusCode);
        string fingerprint = (await activated.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("fingerprint").GetString()!;
        Assert.NotEqual(before, fingerprint);
        await Eventually(async () => (await Generate(b)).Fingerprint, served => served == fingerprint, TimeSpan.FromSeconds(30),
            $"B does not serve the activated model {fingerprint}\nB:\n{replicas.B.Output}");
        log.WriteLine($"B serves the activated model; total {clock.Elapsed.TotalSeconds:F1} s");
        using var a2 = replicas.A.Client();
        Assert.Equal(fingerprint, (await Generate(a2)).Fingerprint);
    }

    private static async Task<(HttpStatusCode Status, string Fingerprint)> Generate(HttpClient client)
    {
        using var response = await client.PostAsJsonAsync("/v1/generate", ApiFactory.Body(seed: 7, tokens: 16));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return (response.StatusCode, response.Headers.GetValues("X-Model-Fingerprint").Single());
    }
}
