namespace DetailFlow.Core.Runtime;

/// <summary>
/// libtorch's CPU kernels run on libgomp, whose idle threads spin at barriers by default. On a shared host that
/// spinning collapses throughput when a neighbour takes a core (docs/performance.md); <c>OMP_WAIT_POLICY=PASSIVE</c>
/// makes them sleep instead. libgomp reads the variable once, when libtorch is loaded, from the native environment
/// (<see cref="NativeEnvironment"/>), so it is set before the first torch call.
/// </summary>
public static class OpenMpWaitPolicy
{
    /// <summary>
    /// Sets OMP_WAIT_POLICY=PASSIVE unless the user chose a policy. Effective only before libtorch is loaded.
    /// Returns the policy in force.
    /// </summary>
    public static string PreferPassive() => NativeEnvironment.PreferDefault("OMP_WAIT_POLICY", "PASSIVE");
}
