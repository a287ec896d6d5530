using System.Text.Json;
using DetailFlow.Api.Caching;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace DetailFlow.Api.Admin;

/// <summary>
/// Jobs shared by every replica through Redis: records in the hash <c>&lt;prefix&gt;jobs</c>, the queue in the list
/// <c>&lt;prefix&gt;jobs:queue</c> (LPUSH / RPOP, so each id reaches exactly one worker), a lease per running job
/// (<c>&lt;prefix&gt;jobs:lease:&lt;id&gt;</c>, SET NX with an expiry, extended only by its holder) and cancel requests
/// in <c>&lt;prefix&gt;jobs:cancel</c>.
/// </summary>
public sealed class RedisJobStore(RedisConnection connection, IOptions<CacheOptions> cache) : IJobStore
{
    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(250);
    private readonly string _prefix = cache.Value.RedisInstanceName;

    private IDatabase Db => connection.Multiplexer.GetDatabase();
    private RedisKey Jobs => _prefix + "jobs";
    private RedisKey Queue => _prefix + "jobs:queue";
    private RedisKey Cancel => _prefix + "jobs:cancel";
    private RedisKey Lease(string id) => _prefix + "jobs:lease:" + id;

    public bool Shared => true;

    public async Task<JobRecord?> GetAsync(string id, CancellationToken ct)
    {
        var value = await Db.HashGetAsync(Jobs, id);
        return value.IsNullOrEmpty ? null : JsonSerializer.Deserialize<JobRecord>(value.ToString(), AdminJson.Options);
    }

    public async Task<IReadOnlyList<JobRecord>> ListAsync(CancellationToken ct) =>
        (await Db.HashValuesAsync(Jobs)).Select(v => JsonSerializer.Deserialize<JobRecord>(v.ToString(), AdminJson.Options)!)
            .OrderByDescending(j => j.Created).ToArray();

    public Task SaveAsync(JobRecord job, CancellationToken ct) =>
        Db.HashSetAsync(Jobs, job.Id, JsonSerializer.Serialize(job, AdminJson.Options));

    public Task EnqueueAsync(string id, CancellationToken ct) => Db.ListLeftPushAsync(Queue, id);

    public async Task<string?> DequeueAsync(TimeSpan wait, CancellationToken ct)
    {
        var until = DateTime.UtcNow + wait;
        while (true)
        {
            var id = await Db.ListRightPopAsync(Queue);
            if (!id.IsNullOrEmpty) return id.ToString();
            if (DateTime.UtcNow >= until) return null;
            await Task.Delay(Poll, ct);
        }
    }

    public Task<bool> TryAcquireLeaseAsync(string id, string owner, TimeSpan ttl) => Db.LockTakeAsync(Lease(id), owner, ttl);

    /// <summary>Extends the holder's lease; one that is gone (expired, or lost with a Redis restart) is taken again unless
    /// another worker took it first. One script, not SE.Redis's <c>LockExtend</c>: that runs WATCH / GET / MULTI as a
    /// transaction whose condition can read as failed when Redis answers slowly (timeouts under load), and a holder that
    /// believes it lost its lease stops its job (docs/admin.md).</summary>
    public async Task<bool> RenewLeaseAsync(string id, string owner, TimeSpan ttl) =>
        (long)await Db.ScriptEvaluateAsync(RenewScript, [Lease(id)], [owner, (long)ttl.TotalMilliseconds]) == 1;

    public Task ReleaseLeaseAsync(string id, string owner) => Db.ScriptEvaluateAsync(ReleaseScript, [Lease(id)], [owner]);

    private const string RenewScript = """
        local holder = redis.call('GET', KEYS[1])
        if holder == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end
        if not holder then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1 end
        return 0
        """;

    private const string ReleaseScript = """
        if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
        return 0
        """;

    public Task<bool> IsLeasedAsync(string id) => Db.KeyExistsAsync(Lease(id));

    public Task SetCancelRequestedAsync(string id, bool requested) =>
        requested ? Db.SetAddAsync(Cancel, id) : Db.SetRemoveAsync(Cancel, id);

    public Task<bool> IsCancelRequestedAsync(string id) => Db.SetContainsAsync(Cancel, id);
}
