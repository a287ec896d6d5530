namespace DetailFlow.Api.Tests;

/// <summary>
/// Scale-out fixture: one <c>redis-server</c> and two service processes (<see cref="A"/>, <see cref="B"/>) on different
/// ports sharing it through <c>ConnectionStrings__Redis</c>, as two replicas behind a load balancer. Extra settings apply
/// to both; <see cref="RestartAsync"/> replaces a replica that was killed or stopped.
/// </summary>
public sealed class ReplicaSet : IAsyncLifetime
{
    private readonly IReadOnlyDictionary<string, string> _extra;

    public ReplicaSet() : this(new Dictionary<string, string>()) { }

    private ReplicaSet(IReadOnlyDictionary<string, string> settings) => _extra = settings;

    /// <summary>A replica set whose processes also get <paramref name="settings"/> (call <see cref="InitializeAsync"/> yourself).</summary>
    public static ReplicaSet With(IReadOnlyDictionary<string, string> settings) => new(settings);

    public RedisServer Redis { get; } = new();
    public ServiceProcess A { get; private set; } = null!;
    public ServiceProcess B { get; private set; } = null!;

    /// <summary>The settings every replica starts with: the shared Redis plus the fixture's extras.</summary>
    public IReadOnlyDictionary<string, string> Settings =>
        new Dictionary<string, string>(_extra) { ["ConnectionStrings__Redis"] = Redis.ConnectionString };

    public async Task InitializeAsync()
    {
        _ = TinyModel.Dir;   // build the model files once, before two processes read them
        var started = await Task.WhenAll(ServiceProcess.StartAsync(Settings, "A"), ServiceProcess.StartAsync(Settings, "B"));
        (A, B) = (started[0], started[1]);
    }

    /// <summary>Starts a fresh process in place of <paramref name="replica"/> (which is killed first if still running).</summary>
    public async Task<ServiceProcess> RestartAsync(ServiceProcess replica)
    {
        await replica.DisposeAsync();
        var fresh = await ServiceProcess.StartAsync(Settings, replica.Name);
        if (ReferenceEquals(replica, A)) A = fresh; else B = fresh;
        return fresh;
    }

    public async Task DisposeAsync()
    {
        if (A is not null) await A.DisposeAsync();
        if (B is not null) await B.DisposeAsync();
        Redis.Dispose();
    }
}
