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
            string mmap = NativeCaches.MmapThresholdFromStart is { } start ? $"{start} bytes (set at start)" : "1 MiB";
            Assert.Equal($"oneDNN primitives {NativeCaches.PrimitiveCacheCapacity}, malloc arenas {arenas}, blocks mapped from {mmap}", NativeCaches.Bound());
            Assert.Equal(NativeCaches.PrimitiveCacheCapacity.ToString(), Marshal.PtrToStringUTF8(GetEnv(Capacity)));
        }
        finally
        {
            Environment.SetEnvironmentVariable(Capacity, before);
        }
    }

    [Fact]
    public void AnMmapThresholdGivenAtStart_IsLeftToGlibc()
    {
        if (!OperatingSystem.IsLinux()) return;
        WithMallocEnvironment(() =>
        {
            Environment.SetEnvironmentVariable("MALLOC_MMAP_THRESHOLD_", null);
            Environment.SetEnvironmentVariable("GLIBC_TUNABLES", "glibc.malloc.arena_max=2:glibc.malloc.mmap_threshold=4194304");
            Assert.Equal("4194304", NativeCaches.MmapThresholdFromStart);
            Assert.EndsWith(", blocks mapped from 4194304 bytes (set at start)", NativeCaches.Bound());
            Environment.SetEnvironmentVariable("MALLOC_MMAP_THRESHOLD_", "262144");
            Assert.Equal("262144", NativeCaches.MmapThresholdFromStart);
            Environment.SetEnvironmentVariable("MALLOC_MMAP_THRESHOLD_", null);
            Environment.SetEnvironmentVariable("GLIBC_TUNABLES", "glibc.malloc.arena_max=2");
            Assert.Null(NativeCaches.MmapThresholdFromStart);
            Assert.EndsWith(", blocks mapped from 1 MiB", NativeCaches.Bound());
        });
    }

    [Fact]
    public void TrainingRuns_TakeLargeBlocksFromTheHeap_UntilTheLastOneEnds()
    {
        if (!OperatingSystem.IsLinux()) return;
        WithMallocEnvironment(() =>
        {
            Environment.SetEnvironmentVariable("MALLOC_MMAP_THRESHOLD_", null);
            Environment.SetEnvironmentVariable("GLIBC_TUNABLES", null);
            NativeCaches.Bound();
            Assert.Equal(NativeCaches.MmapThresholdBytes, NativeCaches.MmapThresholdInForce);
            var first = NativeCaches.HeapForTraining();
            var second = NativeCaches.HeapForTraining();
            Assert.Equal(NativeCaches.TrainingMmapThresholdBytes, NativeCaches.MmapThresholdInForce);
            first.Dispose();
            first.Dispose();   // once only
            Assert.Equal(NativeCaches.TrainingMmapThresholdBytes, NativeCaches.MmapThresholdInForce);
            second.Dispose();
            Assert.Equal(NativeCaches.MmapThresholdBytes, NativeCaches.MmapThresholdInForce);

            Environment.SetEnvironmentVariable("MALLOC_MMAP_THRESHOLD_", "262144");   // the user's: never changed
            NativeCaches.Bound();
            using (NativeCaches.HeapForTraining()) Assert.Null(NativeCaches.MmapThresholdInForce);
            Assert.Null(NativeCaches.MmapThresholdInForce);
        });
    }

    /// <summary>Runs <paramref name="body"/>, then puts glibc's two threshold variables back and bounds again as the process started.</summary>
    private static void WithMallocEnvironment(Action body)
    {
        string? mmap = Environment.GetEnvironmentVariable("MALLOC_MMAP_THRESHOLD_"), tunables = Environment.GetEnvironmentVariable("GLIBC_TUNABLES");
        try
        {
            body();
        }
        finally
        {
            Environment.SetEnvironmentVariable("MALLOC_MMAP_THRESHOLD_", mmap);
            Environment.SetEnvironmentVariable("GLIBC_TUNABLES", tunables);
            NativeCaches.Bound();
        }
    }

    [DllImport("libc", EntryPoint = "getenv")]
    private static extern IntPtr GetEnv(string name);
}
