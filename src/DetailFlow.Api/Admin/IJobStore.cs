namespace DetailFlow.Api.Admin;

/// <summary>
/// Job state, the job queue and job leases. <see cref="FileJobStore"/> keeps them in one process (a JSON file in the
/// data folder); <see cref="RedisJobStore"/> shares them between replicas: any replica accepts a job, exactly one
/// worker dequeues it, and that worker holds a lease (a key with an expiry, renewed while the job runs) that another
/// replica may take over once it expires.
/// </summary>
public interface IJobStore
{
    /// <summary>True when other replicas share this store (leases can expire under a live process).</summary>
    bool Shared { get; }

    Task<JobRecord?> GetAsync(string id, CancellationToken ct);

    /// <summary>All jobs, newest first.</summary>
    Task<IReadOnlyList<JobRecord>> ListAsync(CancellationToken ct);

    Task SaveAsync(JobRecord job, CancellationToken ct);

    Task EnqueueAsync(string id, CancellationToken ct);

    /// <summary>The next queued job id (each id goes to exactly one caller), or null after <paramref name="wait"/>.</summary>
    Task<string?> DequeueAsync(TimeSpan wait, CancellationToken ct);

    /// <summary>Takes the lease of <paramref name="id"/> for <paramref name="owner"/> if nobody holds it.</summary>
    Task<bool> TryAcquireLeaseAsync(string id, string owner, TimeSpan ttl);

    /// <summary>Extends the lease; false when <paramref name="owner"/> no longer holds it.</summary>
    Task<bool> RenewLeaseAsync(string id, string owner, TimeSpan ttl);

    Task ReleaseLeaseAsync(string id, string owner);

    /// <summary>Whether any worker holds the lease of <paramref name="id"/>.</summary>
    Task<bool> IsLeasedAsync(string id);

    /// <summary>Asks whichever worker runs <paramref name="id"/> to stop (it writes a checkpoint first).</summary>
    Task SetCancelRequestedAsync(string id, bool requested);

    Task<bool> IsCancelRequestedAsync(string id);
}
