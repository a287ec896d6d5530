using System.Runtime.InteropServices;

namespace DetailFlow.Core.Runtime;

/// <summary>
/// Native libraries (libgomp, oneDNN) read their settings once, from the native environment, which
/// <see cref="Environment.SetEnvironmentVariable(string, string)"/> does not change on Unix: this writes both, with
/// libc's <c>setenv</c>. Effective only before the library reads the variable (in practice: before libtorch loads).
/// </summary>
internal static class NativeEnvironment
{
    /// <summary>Sets <paramref name="name"/> to <paramref name="value"/> unless the user set it; returns the value in force.</summary>
    public static string PreferDefault(string name, string value)
    {
        if (Environment.GetEnvironmentVariable(name) is { Length: > 0 } chosen) return chosen;
        if (OperatingSystem.IsLinux() || OperatingSystem.IsMacOS())
        {
            if (SetEnv(name, value, 0) != 0)
                throw new InvalidOperationException($"setenv({name}) failed with errno {Marshal.GetLastPInvokeError()}");
            Environment.SetEnvironmentVariable(name, value);
        }
        return value;
    }

    // DllImport rather than LibraryImport: the generated UTF-8 marshalling needs unsafe code, which this project does not allow.
    [DllImport("libc", EntryPoint = "setenv", SetLastError = true)]
    private static extern int SetEnv(string name, string value, int overwrite);
}
