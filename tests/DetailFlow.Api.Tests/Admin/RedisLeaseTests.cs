using System.Diagnostics;
using DetailFlow.Api.Admin;
using DetailFlow.Api.Caching;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace DetailFlow.Api.Tests;

/// <summary>
/// A running job's lease in a real Redis. Renewal must say "lost" only when another worker holds the lease: a holder
/// that wrongly believes it lost it stops its job, and its own expired-lease scan takes the job over again from the last
/// checkpoint (seen 7–8 times in 20 minutes of the issue-17 soak, with SE.Redis's <c>LockExtend</c> under load).
/// </summary>
public sealed class RedisLeaseTests : IDisposable
{
    private static readonly TimeSpan Ttl = TimeSpan.FromSeconds(30);
    private readonly RedisServer _redis = new();
    private readonly RedisConnection _connection;
    private readonly RedisJobStore _store;

    public RedisLeaseTests()
    {
        _connection = _redis.Connect();
        _store = new RedisJobStore(_connection, Options.Create(new CacheOptions()), Options.Create(new AdminOptions()));
    }

    private IDatabase Db => _connection.Multiplexer.GetDatabase();
    private static RedisKey Key(string id) => "detailflow:jobs:lease:" + id;

    /// <summary>
    /// Redis pauses its clients again and again (as a loaded machine or a busy Redis answers late): renewals may time out,
    /// and the worker retries them, but none may report the lease lost while this worker still holds it.
    /// </summary>
    [Fact]
    public async Task RedisAnswersLate_RenewalNeverReportsTheLeaseLost()
    {
        Assert.True(await _store.TryAcquireLeaseAsync("slow", "worker-a", Ttl));
        // The pauser's own CLIENT PAUSE waits while the previous pause lasts (up to 1.5 s): it must not time out itself.
        using var admin = await ConnectionMultiplexer.ConnectAsync(_redis.ConnectionString + ",asyncTimeout=5000,syncTimeout=5000");
        using var stop = new CancellationTokenSource();
        var rng = new Random(17);
        var pauses = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                await Task.Delay(rng.Next(100, 900));
                await admin.GetDatabase().ExecuteAsync("CLIENT", "PAUSE", rng.Next(900, 1500));
            }
        });

        int renewed = 0, lost = 0, failed = 0, slow = 0;
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < TimeSpan.FromSeconds(12))
        {
            var call = Stopwatch.StartNew();
            try { if (await _store.RenewLeaseAsync("slow", "worker-a", Ttl)) renewed++; else lost++; }
            catch (Exception e) when (e is RedisException or TimeoutException) { failed++; }   // the heartbeat logs it and tries again
            if (call.Elapsed > TimeSpan.FromMilliseconds(500)) slow++;
            await Task.Delay(20);
        }
        await stop.CancelAsync();
        await pauses;
        // The pauser's last pause may still hold for up to 1.5 s, and it holds this command too: past Db's 1-s timeout.
        await admin.GetDatabase().ExecuteAsync("CLIENT", "UNPAUSE");

        Assert.True(slow + failed >= 5, $"Redis was not slow enough to test anything: {slow} slow renewals, {failed} failed");
        Assert.Equal(0, lost);
        Assert.True(renewed > 0);
        Assert.Equal("worker-a", (string?)await Db.StringGetAsync(Key("slow")));
    }

    /// <summary>A Redis restart without persistence loses the lease key: the holder's next renewal takes it again.</summary>
    [Fact]
    public async Task LeaseKeyVanished_RenewalTakesItAgain()
    {
        Assert.True(await _store.TryAcquireLeaseAsync("wiped", "worker-a", Ttl));
        await Db.KeyDeleteAsync(Key("wiped"));

        Assert.True(await _store.RenewLeaseAsync("wiped", "worker-a", Ttl));
        Assert.Equal("worker-a", (string?)await Db.StringGetAsync(Key("wiped")));
        var ttl = await Db.KeyTimeToLiveAsync(Key("wiped"));
        Assert.True(ttl > TimeSpan.FromSeconds(20) && ttl <= Ttl, $"TTL {ttl}");
    }

    /// <summary>Another worker took the lease (the holder's had expired): the renewal reports it lost and leaves it alone.</summary>
    [Fact]
    public async Task AnotherWorkerHoldsTheLease_RenewalReportsItLostAndReleaseLeavesIt()
    {
        Assert.True(await _store.TryAcquireLeaseAsync("taken", "worker-b", Ttl));
        Assert.False(await _store.TryAcquireLeaseAsync("taken", "worker-a", Ttl));

        Assert.False(await _store.RenewLeaseAsync("taken", "worker-a", TimeSpan.FromSeconds(5)));
        await _store.ReleaseLeaseAsync("taken", "worker-a");
        Assert.Equal("worker-b", (string?)await Db.StringGetAsync(Key("taken")));
        Assert.True(await Db.KeyTimeToLiveAsync(Key("taken")) > TimeSpan.FromSeconds(20));

        await _store.ReleaseLeaseAsync("taken", "worker-b");
        Assert.False(await _store.IsLeasedAsync("taken"));
    }

    /// <summary>The holder's renewal extends the lease to the full length again.</summary>
    [Fact]
    public async Task HolderRenews_TheLeaseIsExtended()
    {
        Assert.True(await _store.TryAcquireLeaseAsync("held", "worker-a", TimeSpan.FromSeconds(3)));
        Assert.True(await _store.RenewLeaseAsync("held", "worker-a", Ttl));
        Assert.True(await Db.KeyTimeToLiveAsync(Key("held")) > TimeSpan.FromSeconds(20));
        Assert.True(await _store.IsLeasedAsync("held"));
    }

    public void Dispose()
    {
        _connection.Dispose();
        _redis.Dispose();
    }
}
