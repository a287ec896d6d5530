using System.Net;
using System.Net.Http.Json;

namespace DetailFlow.Api.Tests;

public sealed class RedisFactory : ApiFactory
{
    public RedisServer Redis { get; } = new();

    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?> { ["ConnectionStrings:Redis"] = Redis.ConnectionString };

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        Redis.Dispose();
    }
}
