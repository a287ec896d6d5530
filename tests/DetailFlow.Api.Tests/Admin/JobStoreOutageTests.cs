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
}

/// <summary>A job store whose writes fail while <see cref="Down"/> (reads and leases keep working).</summary>
public sealed class FlakyJobStore(IJobStore inner) : IJobStore
{
    private int _failedSaves;
    public volatile bool Down;
    public int FailedSaves => Volatile.Read(ref _failedSaves);
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
    public Task SetCancelRequestedAsync(string id, bool requested) => inner.SetCancelRequestedAsync(id, requested);
    public Task<bool> IsCancelRequestedAsync(string id) => inner.IsCancelRequestedAsync(id);
}
