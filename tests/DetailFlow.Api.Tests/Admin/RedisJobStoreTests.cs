using DetailFlow.Api.Admin;
using DetailFlow.Api.Caching;
using Microsoft.Extensions.Options;
using StackExchange.Redis;
using static DetailFlow.Tests.Wait;

namespace DetailFlow.Api.Tests;

/// <summary>
/// Job records in a real Redis that restarts without persistence (as in the issue-17 soak): the records come back from
/// the <c>job.json</c> beside each job's checkpoints instead of answering 404.
/// </summary>
public sealed class RedisJobStoreTests : IDisposable
{
    private readonly RedisServer _redis = new();
    private readonly RedisConnection _connection;
    private readonly string _data = Directory.CreateTempSubdirectory("jobstore-").FullName;
    private readonly RedisJobStore _store;

    public RedisJobStoreTests()
    {
        _connection = _redis.Connect();
        _store = new RedisJobStore(_connection, Options.Create(new CacheOptions()), Options.Create(new AdminOptions { DataFolder = _data }));
    }

    private JobRecord Job(string id, JobState state, int minutesAgo) => new()
    {
        Id = id, Name = "job " + id, Kind = "ar", State = state, Step = 3648, Folder = Path.Combine(_data, "jobs", id),
        Spec = new JobSpec { Kind = "ar", Name = "job " + id }, Created = DateTimeOffset.UtcNow.AddMinutes(-minutesAgo),
        Updated = DateTimeOffset.UtcNow,
    };

    [Fact]
    public async Task RedisRestartsEmpty_RecordsComeBackFromTheJobFolders()
    {
        var cancelled = Job("0123456789abcdef", JobState.Cancelled, 2).WithLoss(3648, 0.25);
        var completed = Job("fedcba9876543210", JobState.Completed, 1);
        await _store.SaveAsync(cancelled, CancellationToken.None);
        await _store.SaveAsync(completed, CancellationToken.None);

        _redis.Stop();
        _redis.Start();   // no persistence: the hash of records is gone
        var db = _connection.Multiplexer.GetDatabase();
        await Eventually(async () =>
        {
            try { return !await db.KeyExistsAsync("detailflow:jobs"); }
            catch (RedisException) { return false; }   // reconnecting
        }, TimeSpan.FromSeconds(30), "the client did not reconnect to the restarted Redis");

        var listed = await _store.ListAsync(CancellationToken.None);
        Assert.Equal([completed.Id, cancelled.Id], listed.Select(j => j.Id));   // newest first
        var back = await _store.GetAsync(cancelled.Id, CancellationToken.None);
        Assert.NotNull(back);
        Assert.Equal((JobState.Cancelled, 3648L, 0.25), (back.State, back.Step, back.Loss!.Value));
        Assert.Equal(cancelled.Losses, back.Losses);
        Assert.True(await db.HashExistsAsync("detailflow:jobs", cancelled.Id), "the record was not written back to Redis");
    }

    [Fact]
    public async Task UnknownOrUnsafeIds_AreNotFound_AndNoFileOutsideTheJobsFolderIsRead()
    {
        File.WriteAllText(Path.Combine(_data, "job.json"), "{}");   // what "jobs/../job.json" would reach
        Assert.Null(await _store.GetAsync("nosuchjob", CancellationToken.None));
        Assert.Null(await _store.GetAsync("..", CancellationToken.None));
        Assert.Null(await _store.GetAsync("../x", CancellationToken.None));
        Directory.CreateDirectory(Path.Combine(_data, "jobs", "notajob"));
        File.WriteAllText(Path.Combine(_data, "jobs", "notajob", "job.json"), "not json");
        Assert.Null(await _store.GetAsync("notajob", CancellationToken.None));
        Assert.Empty(await _store.ListAsync(CancellationToken.None));
    }

    public void Dispose()
    {
        _connection.Dispose();
        _redis.Dispose();
        Directory.Delete(_data, recursive: true);
    }
}
