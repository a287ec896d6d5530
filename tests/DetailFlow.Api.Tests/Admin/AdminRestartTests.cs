using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

namespace DetailFlow.Api.Tests;

/// <summary>
/// Restart safety with a real process: the service is killed (SIGKILL) while a job trains; the next start marks the job
/// interrupted at its last checkpoint, and resume completes it with the step count continuing from there.
/// </summary>
public sealed class AdminRestartTests : IDisposable
{
    private readonly string _data = Path.Combine(Path.GetTempPath(), "detailflow-admin-restart-" + Guid.NewGuid().ToString("N")[..8]);

    [Fact]
    public async Task KilledDuringAJob_RestartMarksItInterrupted_ResumeCompletesWithTheStepCountContinuing()
    {
        const int total = 80, every = 5;
        string id;
        using (var first = await ServiceProcess.StartAdminAsync(_data))
        {
            using var admin = first.Admin();
            id = await AdminCalls.CreateJob(admin, AdminCalls.TokenizerJob("killed", total, every));
            var running = await AdminCalls.WaitFor(admin, id, j => j.Step() >= 2 * every + 1 && j.GetProperty("last_checkpoint").ValueKind == JsonValueKind.String);
            Assert.Equal("running", running.State());
            first.Kill();
            Assert.Contains("Admin API is on", first.Output);
            Assert.DoesNotContain(AdminFactory.Key, first.Output);   // the key is never logged
        }

        using var second = await ServiceProcess.StartAdminAsync(_data);
        using var client = second.Admin();
        var interrupted = await AdminCalls.Job(client, id);
        Assert.Equal("interrupted", interrupted.State());
        long resumedFrom = interrupted.Step();
        string checkpoint = interrupted.GetProperty("last_checkpoint").GetString()!;
        Assert.Equal(resumedFrom, long.Parse(Path.GetFileNameWithoutExtension(checkpoint)));
        Assert.InRange(resumedFrom, 2 * every, total - 1);
        Assert.Equal(0, resumedFrom % every);

        var resume = await client.PostAsync($"/admin/jobs/{id}/resume", null);
        Assert.Equal(HttpStatusCode.Accepted, resume.StatusCode);
        var events = await AdminCalls.Follow(client, id);
        Assert.Equal("completed", events[^1].Type);
        var progress = events.Where(e => e.Type == "progress" && e.Job.State() == "running").Select(e => e.Job.Step()).ToList();
        Assert.Contains(progress, s => s > resumedFrom && s < total);
        Assert.DoesNotContain(progress, s => s > 0 && s < resumedFrom);   // it did not start over
        var done = events[^1].Job;
        Assert.Equal(total, done.Step());
        Assert.Equal(2, done.GetProperty("runs").GetInt32());
        var losses = done.GetProperty("losses").EnumerateArray().Select(p => p.GetProperty("step").GetInt64()).ToList();
        Assert.Equal(Enumerable.Range((int)resumedFrom + 1, total - (int)resumedFrom).Select(i => (long)i), losses.Where(s => s > resumedFrom));
        Assert.Equal(losses.Order().Distinct(), losses);
        Assert.EndsWith($"{total:D7}.pt", done.GetProperty("last_checkpoint").GetString());
    }

    public void Dispose()
    {
        if (Directory.Exists(_data)) Directory.Delete(_data, recursive: true);
    }
}
