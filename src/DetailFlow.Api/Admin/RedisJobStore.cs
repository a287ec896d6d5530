using System.Text.Json;
using System.Text.RegularExpressions;
using DetailFlow.Api.Caching;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace DetailFlow.Api.Admin;

/// <summary>
/// Jobs shared by every replica through Redis: records in the hash <c>&lt;prefix&gt;jobs</c>, the queue in the list
/// <c>&lt;prefix&gt;jobs:queue</c> (LPUSH / RPOP, so each id reaches exactly one worker), a lease per running job
/// (<c>&lt;prefix&gt;jobs:lease:&lt;id&gt;</c>, SET NX with an expiry, extended only by its holder) and cancel requests
/// in <c>&lt;prefix&gt;jobs:cancel</c>.
/// <para>
/// Every record is also written to <c>job.json</c> in its job's folder, beside the job's checkpoints: a Redis without
/// persistence loses its data when it restarts, and a job's record must not go with it (a finished job would answer 404).
/// A record Redis does not have is read from that file and written back.
/// </para>
/// </summary>
public sealed partial class RedisJobStore(RedisConnection connection, IOptions<CacheOptions> cache, IOptions<AdminOptions> admin) : IJobStore
{
    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(250);
    private readonly string _prefix = cache.Value.RedisInstanceName;
    private readonly string _jobsFolder = Path.GetFullPath(Path.Combine(admin.Value.DataFolder, "jobs"));

    private IDatabase Db => connection.Multiplexer.GetDatabase();
    private RedisKey Jobs => _prefix + "jobs";
    private RedisKey Queue => _prefix + "jobs:queue";
    private RedisKey Cancel => _prefix + "jobs:cancel";
    private RedisKey Lease(string id) => _prefix + "jobs:lease:" + id;

    public bool Shared => true;

    public async Task<JobRecord?> GetAsync(string id, CancellationToken ct)
    {
        var value = await Db.HashGetAsync(Jobs, id);
        if (!value.IsNullOrEmpty) return Deserialize(value.ToString());
        if (await ReadMirrorAsync(id, ct) is not { } job) return null;
        await Db.HashSetAsync(Jobs, id, Serialize(job), When.NotExists);
        return job;
    }

    public async Task<IReadOnlyList<JobRecord>> ListAsync(CancellationToken ct)
    {
        var jobs = (await Db.HashValuesAsync(Jobs)).Select(v => Deserialize(v.ToString())).ToDictionary(j => j.Id);
        if (Directory.Exists(_jobsFolder))
            foreach (string folder in Directory.EnumerateDirectories(_jobsFolder))
                if (!jobs.ContainsKey(Path.GetFileName(folder)) && await ReadMirrorAsync(Path.GetFileName(folder), ct) is { } job)
                    jobs[job.Id] = job;
        return jobs.Values.OrderByDescending(j => j.Created).ToArray();
    }

    public async Task SaveAsync(JobRecord job, CancellationToken ct)
    {
        string json = Serialize(job);
        if (MirrorPath(job.Id) is { } path)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            string tmp = $"{path}.{Guid.NewGuid():N}.tmp";   // concurrent saves of one job (progress, cancel) each write whole
            await File.WriteAllTextAsync(tmp, json, CancellationToken.None);
            File.Move(tmp, path, overwrite: true);
        }
        await Db.HashSetAsync(Jobs, job.Id, json);
    }

    private async Task<JobRecord?> ReadMirrorAsync(string id, CancellationToken ct)
    {
        if (MirrorPath(id) is not { } path || !File.Exists(path)) return null;
        try { return Deserialize(await File.ReadAllTextAsync(path, ct)); }
        catch (JsonException) { return null; }   // not a record of ours
    }

    /// <summary><c>&lt;DataFolder&gt;/jobs/&lt;id&gt;/job.json</c>; null for an id that is not a plain folder name (ids come from URLs).</summary>
    private string? MirrorPath(string id) => SafeId().IsMatch(id) ? Path.Combine(_jobsFolder, id, "job.json") : null;

    [GeneratedRegex("^[A-Za-z0-9_-]{1,64}$")]
    private static partial Regex SafeId();

    private static JobRecord Deserialize(string json) => JsonSerializer.Deserialize<JobRecord>(json, AdminJson.Options)!;

    private static string Serialize(JobRecord job) => JsonSerializer.Serialize(job, AdminJson.Options);

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
