namespace DetailFlow.Api.Tests;

/// <summary>
/// Scale-out fixture: one <c>redis-server</c> and two service processes (<see cref="A"/>, <see cref="B"/>) on different
/// ports sharing it through <c>ConnectionStrings__Redis</c>, as two replicas behind a load balancer. Extra settings apply
/// to both, per-replica settings (e.g. <c>Admin__InstanceId</c>) to the replica they name; <see cref="RestartAsync"/>
/// replaces a replica that was killed or stopped (with the same settings).
/// </summary>
public sealed class ReplicaSet : IAsyncLifetime
{
    private readonly IReadOnlyDictionary<string, string> _extra;
    private readonly Func<string, IReadOnlyDictionary<string, string>>? _perReplica;

    public ReplicaSet() : this(new Dictionary<string, string>(), null) { }

    private ReplicaSet(IReadOnlyDictionary<string, string> settings, Func<string, IReadOnlyDictionary<string, string>>? perReplica) =>
        (_extra, _perReplica) = (settings, perReplica);

    /// <summary>
    /// A replica set whose processes also get <paramref name="settings"/>, and each replica ("A", "B") what
    /// <paramref name="perReplica"/> gives for its name (call <see cref="InitializeAsync"/> yourself, or use it as a fixture).
    /// </summary>
    public static ReplicaSet With(IReadOnlyDictionary<string, string> settings,
        Func<string, IReadOnlyDictionary<string, string>>? perReplica = null) => new(settings, perReplica);

    public RedisServer Redis { get; } = new();
    public ServiceProcess A { get; private set; } = null!;
    public ServiceProcess B { get; private set; } = null!;

    /// <summary>The settings every replica starts with: the shared Redis plus the fixture's extras.</summary>
    public IReadOnlyDictionary<string, string> Settings =>
        new Dictionary<string, string>(_extra) { ["ConnectionStrings__Redis"] = Redis.ConnectionString };

    /// <summary>The settings replica <paramref name="name"/> starts with: <see cref="Settings"/> plus its own.</summary>
    public IReadOnlyDictionary<string, string> SettingsFor(string name)
    {
        var settings = new Dictionary<string, string>(Settings);
        foreach (var (k, v) in _perReplica?.Invoke(name) ?? new Dictionary<string, string>()) settings[k] = v;
        return settings;
    }

    public async Task InitializeAsync()
    {
        _ = TinyModel.Dir;   // build the model files once, before two processes read them
        var started = await Task.WhenAll(ServiceProcess.StartAsync(SettingsFor("A"), "A"), ServiceProcess.StartAsync(SettingsFor("B"), "B"));
        (A, B) = (started[0], started[1]);
    }

    /// <summary>Starts a fresh process in place of <paramref name="replica"/> (which is killed first if still running).</summary>
    public async Task<ServiceProcess> RestartAsync(ServiceProcess replica)
    {
        await replica.DisposeAsync();
        var fresh = await ServiceProcess.StartAsync(SettingsFor(replica.Name), replica.Name);
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
