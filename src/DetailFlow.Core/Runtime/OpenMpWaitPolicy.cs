using System.Runtime.InteropServices;

namespace DetailFlow.Core.Runtime;

/// <summary>
/// libtorch's CPU kernels run on libgomp, whose idle threads spin at barriers by default. On a shared host that
/// spinning collapses throughput when a neighbour takes a core (docs/performance.md); <c>OMP_WAIT_POLICY=PASSIVE</c>
/// makes them sleep instead. libgomp reads the variable once, when libtorch
/// is loaded, from the native environment — which <see cref="Environment.SetEnvironmentVariable(string, string)"/>
/// does not change on Unix — so it is set with libc's <c>setenv</c> before the first torch call.
/// </summary>
public static class OpenMpWaitPolicy
{
    private const string Name = "OMP_WAIT_POLICY";

    /// <summary>
    /// Sets OMP_WAIT_POLICY=PASSIVE unless the user chose a policy. Effective only before libtorch is loaded.
    /// Returns the policy in force.
    /// </summary>
    public static string PreferPassive()
    {
        if (Environment.GetEnvironmentVariable(Name) is { Length: > 0 } chosen) return chosen;
        if (OperatingSystem.IsLinux() || OperatingSystem.IsMacOS())
        {
            if (SetEnv(Name, "PASSIVE", 0) != 0)
                throw new InvalidOperationException($"setenv({Name}) failed with errno {Marshal.GetLastPInvokeError()}");
            Environment.SetEnvironmentVariable(Name, "PASSIVE");
        }
        return "PASSIVE";
    }

    // DllImport rather than LibraryImport: the generated UTF-8 marshalling needs unsafe code, which this project does not allow.
    [DllImport("libc", EntryPoint = "setenv", SetLastError = true)]
    private static extern int SetEnv(string name, string value, int overwrite);
}
