using Microsoft.Extensions.Diagnostics.HealthChecks;
using StackExchange.Redis;

namespace DetailFlow.Api.Caching;

/// <summary>
/// Redis (the cache's second level) reachable → healthy; unreachable → degraded (requests are served uncached or from
/// memory). Logs once per transition, not per request.
/// </summary>
public sealed class RedisHealthCheck(RedisConnection redis, ILogger<RedisHealthCheck> logger) : IHealthCheck
{
    private int _down;

    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken ct = default)
    {
        bool up = redis.IsConnected;
        if (!up && Interlocked.Exchange(ref _down, 1) == 0) logger.LogWarning("Redis is unreachable; serving without the second-level cache");
        if (up && Interlocked.Exchange(ref _down, 0) == 1) logger.LogInformation("Redis is reachable again");
        return Task.FromResult(up ? HealthCheckResult.Healthy("redis connected")
            : HealthCheckResult.Degraded("redis unreachable: serving without the second-level cache"));
    }
}

/// <summary>One fail-fast multiplexer shared by the job store, the activation channel and the health check (connects lazily, never throws on connect).</summary>
public sealed class RedisConnection(string connectionString) : IDisposable
{
    private readonly Lazy<ConnectionMultiplexer> _mux = new(() => ConnectionMultiplexer.Connect(FailFast(connectionString)));

    public IConnectionMultiplexer Multiplexer => _mux.Value;
    public bool IsConnected => _mux.Value.IsConnected;

    /// <summary>Without these, every cache miss waits up to 5 s in SE.Redis's backlog while Redis is down.</summary>
    public static ConfigurationOptions FailFast(string connectionString)
    {
        var cfg = ConfigurationOptions.Parse(connectionString);
        cfg.AbortOnConnectFail = false;
        cfg.ConnectTimeout = 1000;
        cfg.SyncTimeout = 1000;
        cfg.AsyncTimeout = 1000;
        cfg.ConnectRetry = 1;
        cfg.BacklogPolicy = BacklogPolicy.FailFast;
        return cfg;
    }

    public void Dispose()
    {
        if (_mux.IsValueCreated) _mux.Value.Dispose();
    }
}
