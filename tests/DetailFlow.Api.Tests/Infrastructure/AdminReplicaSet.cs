using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using StackExchange.Redis;
using Xunit.Abstractions;

namespace DetailFlow.Api.Tests;

/// <summary>
/// Two service processes (replicas "A" and "B", different ports) with the admin API on, sharing one redis-server and one
/// data folder (the shared volume), each with its own <c>Admin__InstanceId</c>, a 3 s job lease and one training thread.
/// </summary>
public sealed class AdminReplicaSet : IAsyncLifetime
{
    public string DataFolder { get; } = Path.Combine(Path.GetTempPath(), "detailflow-replica-jobs-" + Guid.NewGuid().ToString("N")[..8]);

    public ReplicaSet Set { get; }

    public AdminReplicaSet() => Set = ReplicaSet.With(
        new Dictionary<string, string>
        {
            ["Admin__ApiKey"] = AdminFactory.Key, ["Admin__DataFolder"] = DataFolder, ["Admin__TrainingThreads"] = "1",
            ["Admin__LeaseSeconds"] = LeaseSeconds.ToString(),
        },
        name => new Dictionary<string, string> { ["Admin__InstanceId"] = InstanceId(name) });

    /// <summary>Short enough for a quick takeover after a kill, long enough that a renewal delayed by a loaded machine
    /// (one every LeaseSeconds / 3) does not let the other replica take a job that is still running.</summary>
    public const int LeaseSeconds = 20;

    /// <summary>The instance id (job owner) of replica "A" or "B".</summary>
    public static string InstanceId(string replica) => "proc-" + replica.ToLowerInvariant();

    public ServiceProcess A => Set.A;
    public ServiceProcess B => Set.B;

    /// <summary>The replica whose instance id is <paramref name="owner"/>.</summary>
    public ServiceProcess ByOwner(string owner) => owner == InstanceId("A") ? A : owner == InstanceId("B") ? B
        : throw new InvalidOperationException($"no replica is '{owner}'");

    public ServiceProcess Other(ServiceProcess replica) => ReferenceEquals(replica, A) ? B : A;

    public Task InitializeAsync()
    {
        Directory.CreateDirectory(DataFolder);
        _ = FashionSlice.Folder;   // build the slice once, before the replicas read it
        return Set.InitializeAsync();
    }

    public async Task DisposeAsync()
    {
        await Set.DisposeAsync();
        if (Directory.Exists(DataFolder)) Directory.Delete(DataFolder, recursive: true);
    }
}
