using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

namespace DetailFlow.Api.Tests;

/// <summary>
/// Redis down when a job is submitted: 503 with Retry-After and a problem body, nothing left in the data folder, and the
/// same request accepted once Redis is back. Before, the store's connection error surfaced as a 500 (seen in the suite
/// when replicas started on a loaded host, before their connection was up).
/// </summary>
public sealed class JobStoreUnavailableTests : IDisposable
{
    private readonly RedisServer _redis = new();
    private readonly string _dataFolder = Path.Combine(Path.GetTempPath(), "detailflow-unavailable-" + Guid.NewGuid().ToString("N")[..8]);

    [Fact]
    public async Task RedisDown_JobSubmission_Is503WithRetryAfter_AndAcceptedOnceRedisIsBack()
    {
        Directory.CreateDirectory(_dataFolder);
        _redis.Stop();
        await using var api = new ReplicaFactory(_redis, _dataFolder, "down");
        using var admin = api.Admin();
        var spec = AdminCalls.TokenizerJob("while-down", steps: 2, checkpointEvery: 1);

        var refused = await admin.PostAsJsonAsync("/admin/jobs", spec);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
        Assert.Equal(TimeSpan.FromSeconds(2), refused.Headers.RetryAfter?.Delta);
        Assert.Equal("application/problem+json", refused.Content.Headers.ContentType?.MediaType);
        var problem = JsonDocument.Parse(await refused.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal(503, problem.GetProperty("status").GetInt32());
        Assert.Equal("Store unavailable", problem.GetProperty("title").GetString());
        string jobs = Path.Combine(_dataFolder, "jobs");
        Assert.True(!Directory.Exists(jobs) || Directory.GetFileSystemEntries(jobs).Length == 0, "a refused job left files behind");

        _redis.Start();
        HttpResponseMessage? accepted = null;
        for (var clock = System.Diagnostics.Stopwatch.StartNew(); clock.Elapsed < TimeSpan.FromSeconds(30); await Task.Delay(250))
        {
            accepted = await admin.PostAsJsonAsync("/admin/jobs", spec);
            if (accepted.StatusCode != HttpStatusCode.ServiceUnavailable) break;
        }
        Assert.Equal(HttpStatusCode.Accepted, accepted!.StatusCode);
    }

    public void Dispose()
    {
        _redis.Dispose();
        if (Directory.Exists(_dataFolder)) Directory.Delete(_dataFolder, recursive: true);
    }
}
