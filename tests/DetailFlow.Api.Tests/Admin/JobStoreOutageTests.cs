using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using DetailFlow.Api.Admin;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;

namespace DetailFlow.Api.Tests;

/// <summary>
/// A job store that is down for a while (a Redis restart) while a job trains: its progress writes fail, the training
/// goes on, and the record is whole again once the store is back. Before, the first failed progress write failed the job.
/// </summary>
public sealed class JobStoreOutageTests(JobStoreOutageTests.OutageFactory api) : IClassFixture<JobStoreOutageTests.OutageFactory>
{
    public sealed class OutageFactory : AdminFactory
    {
        public FlakyJobStore Store => (FlakyJobStore)Services.GetRequiredService<IJobStore>();

        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            base.ConfigureWebHost(builder);
            builder.ConfigureTestServices(services =>
            {
                services.AddSingleton<FileJobStore>();
                services.AddSingleton<IJobStore>(sp => new FlakyJobStore(sp.GetRequiredService<FileJobStore>()));
            });
        }
    }

    [Fact]
    public async Task ProgressWritesFailWhileTheStoreIsDown_TheJobStillCompletes()
    {
        using var admin = api.Admin();
        string id = await AdminCalls.CreateJob(admin, AdminCalls.TokenizerJob("outage", steps: 2000, checkpointEvery: 500));
        await AdminCalls.WaitFor(admin, id, j => j.State() == "running" && j.Step() >= 2);

        api.Store.Down = true;
        await Eventually(() => api.Store.FailedSaves >= 2, TimeSpan.FromSeconds(120), "no progress write reached the store while it was down");
        api.Store.Down = false;

        var done = await AdminCalls.WaitFor(admin, id, j => j.State() is "completed" or "failed" or "cancelled" or "interrupted", seconds: 240);
        Assert.True(done.State() == "completed", done.GetRawText());
        Assert.Equal(2000, done.Step());
    }

    /// <summary>
    /// The store goes down right after a cancel request is recorded (a Redis restart at that moment): the run stops, its
    /// outcome waits for the store and is then recorded as cancelled. Before, reading the cancel flag failed the job and
    /// the record stayed "running".
    /// </summary>
    [Fact]
    public async Task StoreDownWhenACancelArrives_TheCancelledOutcomeIsRecordedOnceItIsBack()
    {
        using var admin = api.Admin();
        string id = await AdminCalls.CreateJob(admin, AdminCalls.TokenizerJob("cancel-outage", steps: 100_000, checkpointEvery: 3));
        await AdminCalls.WaitFor(admin, id, j => j.State() == "running" && j.Step() >= 4);

        api.Store.DownAfterCancelRequest = true;
        Assert.Equal(HttpStatusCode.Accepted, (await admin.DeleteAsync($"/admin/jobs/{id}")).StatusCode);
        await Eventually(() => api.Store.FailedCancelFlags >= 2, TimeSpan.FromSeconds(60), "the worker never tried the store while it was down");
        api.Store.DownAfterCancelRequest = false;
        api.Store.Down = false;

        var job = await AdminCalls.WaitFor(admin, id, j => j.State() != "running", seconds: 60);
        Assert.True(job.State() == "cancelled", job.GetRawText());
        Assert.True(File.Exists(job.GetProperty("last_checkpoint").GetString()));
    }
}

/// <summary>
/// A job store whose writes and cancel flags fail while <see cref="Down"/> (reads and leases keep working);
/// <see cref="DownAfterCancelRequest"/> takes it down right after a cancel request is recorded.
/// </summary>
public sealed class FlakyJobStore(IJobStore inner) : IJobStore
{
    private int _failedSaves, _failedCancelFlags;
    public volatile bool Down, DownAfterCancelRequest;
    public int FailedSaves => Volatile.Read(ref _failedSaves);
    public int FailedCancelFlags => Volatile.Read(ref _failedCancelFlags);
    public bool Shared => inner.Shared;

    public Task SaveAsync(JobRecord job, CancellationToken ct)
    {
        if (!Down) return inner.SaveAsync(job, ct);
        Interlocked.Increment(ref _failedSaves);
        throw new IOException("the job store is down");
    }

    public Task<JobRecord?> GetAsync(string id, CancellationToken ct) => inner.GetAsync(id, ct);
    public Task<IReadOnlyList<JobRecord>> ListAsync(CancellationToken ct) => inner.ListAsync(ct);
    public Task EnqueueAsync(string id, CancellationToken ct) => inner.EnqueueAsync(id, ct);
    public Task<string?> DequeueAsync(TimeSpan wait, CancellationToken ct) => inner.DequeueAsync(wait, ct);
    public Task<bool> TryAcquireLeaseAsync(string id, string owner, TimeSpan ttl) => inner.TryAcquireLeaseAsync(id, owner, ttl);
    public Task<bool> RenewLeaseAsync(string id, string owner, TimeSpan ttl) => inner.RenewLeaseAsync(id, owner, ttl);
    public Task ReleaseLeaseAsync(string id, string owner) => inner.ReleaseLeaseAsync(id, owner);
    public Task<bool> IsLeasedAsync(string id) => inner.IsLeasedAsync(id);

    public async Task SetCancelRequestedAsync(string id, bool requested)
    {
        ThrowIfDown();
        await inner.SetCancelRequestedAsync(id, requested);
        if (requested && DownAfterCancelRequest) Down = true;
    }

    public Task<bool> IsCancelRequestedAsync(string id)
    {
        ThrowIfDown();
        return inner.IsCancelRequestedAsync(id);
    }

    private void ThrowIfDown()
    {
        if (!Down) return;
        Interlocked.Increment(ref _failedCancelFlags);
        throw new IOException("the job store is down");
    }
}
