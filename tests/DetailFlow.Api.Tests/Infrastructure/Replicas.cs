using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using StackExchange.Redis;

namespace DetailFlow.Api.Tests;

/// <summary>Two replicas sharing one Redis and one data volume.</summary>
public sealed class Replicas : IAsyncLifetime
{
    public RedisServer Redis { get; } = new();
    public string DataFolder { get; } = Path.Combine(Path.GetTempPath(), "detailflow-replicas-" + Guid.NewGuid().ToString("N")[..8]);
    public ReplicaFactory A { get; private set; } = null!;
    public ReplicaFactory B { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        A = new ReplicaFactory(Redis, DataFolder, "replica-a");
        B = new ReplicaFactory(Redis, DataFolder, "replica-b");
        await Task.WhenAll(((IAsyncLifetime)A).InitializeAsync(), ((IAsyncLifetime)B).InitializeAsync());
    }

    public async Task DisposeAsync()
    {
        await A.DisposeAsync();
        await B.DisposeAsync();
        Redis.Dispose();
        if (Directory.Exists(DataFolder)) Directory.Delete(DataFolder, recursive: true);
    }
}
