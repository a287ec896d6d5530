using System.Runtime.InteropServices;
using DetailFlow.Core.Runtime;

namespace DetailFlow.Core.Tests.Runtime;

/// <summary>
/// The bounds reach the native environment oneDNN reads (not only .NET's copy of it), and a value the user set wins.
/// </summary>
public class NativeCachesTests
{
    private const string Capacity = "ONEDNN_PRIMITIVE_CACHE_CAPACITY";

    [Fact]
    public void Bound_WritesTheNativeEnvironment_AndKeepsTheUsersValue()
    {
        if (!OperatingSystem.IsLinux()) return;
        string? before = Environment.GetEnvironmentVariable(Capacity);
        try
        {
            Environment.SetEnvironmentVariable(Capacity, "64");   // as if the user had set it
            Assert.StartsWith("oneDNN primitives 64,", NativeCaches.Bound());

            Environment.SetEnvironmentVariable(Capacity, null);
            string arenas = Environment.GetEnvironmentVariable("MALLOC_ARENA_MAX") is { Length: > 0 } set ? set : "no new ones (MALLOC_ARENA_MAX unset at start)";
            Assert.Equal(NativeCaches.ArenaCapFromStart, arenas != "no new ones (MALLOC_ARENA_MAX unset at start)");
            Assert.Equal($"oneDNN primitives {NativeCaches.PrimitiveCacheCapacity}, malloc arenas {arenas}", NativeCaches.Bound());
            Assert.Equal(NativeCaches.PrimitiveCacheCapacity.ToString(), Marshal.PtrToStringUTF8(GetEnv(Capacity)));
        }
        finally
        {
            Environment.SetEnvironmentVariable(Capacity, before);
        }
    }

    [DllImport("libc", EntryPoint = "getenv")]
    private static extern IntPtr GetEnv(string name);
}
