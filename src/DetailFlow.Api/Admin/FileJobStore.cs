using System.Collections.Concurrent;
using System.Text.Json;
using System.Threading.Channels;
using Microsoft.Extensions.Options;

namespace DetailFlow.Api.Admin;

/// <summary>
/// Jobs of a single process in <c>&lt;DataFolder&gt;/jobs.json</c> (rewritten atomically on every change); the queue and the
/// leases live in memory: after a restart nothing holds a lease, so jobs stored as running become interrupted.
/// </summary>
public sealed class FileJobStore : IJobStore
{
    private readonly string _path;
    private readonly Lock _lock = new();
    private readonly Dictionary<string, JobRecord> _jobs;
    private readonly Channel<string> _queue = Channel.CreateUnbounded<string>();
    private readonly ConcurrentDictionary<string, string> _leases = new();
    private readonly ConcurrentDictionary<string, bool> _cancel = new();

    public FileJobStore(IOptions<AdminOptions> options)
    {
        Directory.CreateDirectory(options.Value.DataFolder);
        _path = Path.Combine(options.Value.DataFolder, "jobs.json");
        _jobs = File.Exists(_path)
            ? (JsonSerializer.Deserialize<List<JobRecord>>(File.ReadAllText(_path), AdminJson.Options) ?? []).ToDictionary(j => j.Id)
            : [];
        foreach (var job in _jobs.Values.Where(j => j.State == JobState.Queued).OrderBy(j => j.Created)) _queue.Writer.TryWrite(job.Id);
    }

    public bool Shared => false;

    public Task<JobRecord?> GetAsync(string id, CancellationToken ct)
    {
        lock (_lock) return Task.FromResult(_jobs.GetValueOrDefault(id));
    }

    public Task<IReadOnlyList<JobRecord>> ListAsync(CancellationToken ct)
    {
        lock (_lock) return Task.FromResult<IReadOnlyList<JobRecord>>(_jobs.Values.OrderByDescending(j => j.Created).ToArray());
    }

    public Task SaveAsync(JobRecord job, CancellationToken ct)
    {
        lock (_lock)
        {
            _jobs[job.Id] = job;
            string tmp = _path + ".tmp";
            File.WriteAllText(tmp, JsonSerializer.Serialize(_jobs.Values.OrderBy(j => j.Created), AdminJson.Options));
            File.Move(tmp, _path, overwrite: true);
        }
        return Task.CompletedTask;
    }

    public Task EnqueueAsync(string id, CancellationToken ct) => _queue.Writer.WriteAsync(id, ct).AsTask();

    public async Task<string?> DequeueAsync(TimeSpan wait, CancellationToken ct)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(wait);
        try { return await _queue.Reader.ReadAsync(timeout.Token); }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested) { return null; }
    }

    public Task<bool> TryAcquireLeaseAsync(string id, string owner, TimeSpan ttl) => Task.FromResult(_leases.TryAdd(id, owner));

    public Task<bool> RenewLeaseAsync(string id, string owner, TimeSpan ttl) => Task.FromResult(_leases.TryGetValue(id, out var o) && o == owner);

    public Task ReleaseLeaseAsync(string id, string owner)
    {
        _leases.TryRemove(new KeyValuePair<string, string>(id, owner));
        return Task.CompletedTask;
    }

    public Task<bool> IsLeasedAsync(string id) => Task.FromResult(_leases.ContainsKey(id));

    public Task SetCancelRequestedAsync(string id, bool requested)
    {
        if (requested) _cancel[id] = true; else _cancel.TryRemove(id, out _);
        return Task.CompletedTask;
    }

    public Task<bool> IsCancelRequestedAsync(string id) => Task.FromResult(_cancel.ContainsKey(id));
}
