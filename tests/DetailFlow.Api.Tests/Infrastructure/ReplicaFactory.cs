using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using StackExchange.Redis;

namespace DetailFlow.Api.Tests;

/// <summary>One replica of a Redis-backed deployment: shared Redis and data folder, its own instance name.</summary>
public sealed class ReplicaFactory(RedisServer redis, string dataFolder, string instance) : AdminFactory(dataFolder)
{
    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>(base.Settings)
    {
        ["ConnectionStrings:Redis"] = redis.ConnectionString, ["Admin:InstanceId"] = instance, ["Admin:LeaseSeconds"] = "3",
    };

    protected override bool OwnsDataFolder => false;
}
