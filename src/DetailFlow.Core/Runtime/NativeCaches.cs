namespace DetailFlow.Core.Runtime;

/// <summary>
/// Bounds two native caches that a long-running service otherwise lets grow for an hour (docs/memory.md, issue 17).
/// oneDNN keeps every GEMM it JIT-compiled, one per distinct shape; a continuous batch changes its shapes with its rows
/// and their phases (a GPT-L soak still compiled about 20 new ones a minute after four minutes, and the C heap in use grew
/// with them). <see cref="GemmRows"/> rounds the row counts so that the set is small and compiled at start; the cache
/// must hold all of it, or it evicts and recompiles them in turn. glibc opens up to eight arenas per core as threads
/// contend; each keeps its own free memory, and a GPT-L service's arenas kept spreading over new pages while the memory
/// in use stayed flat; with one arena its resident size grew a third as fast (docs/memory.md). Call before libtorch
/// loads: oneDNN reads its capacity once, from the native environment (<see cref="NativeEnvironment"/>). A value set in
/// the environment wins.
/// </summary>
public static class NativeCaches
{
    /// <summary>
    /// oneDNN primitives kept (its default, stated because a smaller cache evicts the warmed set): a GPT-L service on 2
    /// cores warms about 240 (<see cref="GemmRows.Warm"/>); continuation prefixes and unusual batches add a few more.
    /// </summary>
    public const int PrimitiveCacheCapacity = 1024;

    /// <summary>glibc arenas (its default is eight per core).</summary>
    public const int ArenaMax = 1;

    private const string CapacityVariable = "ONEDNN_PRIMITIVE_CACHE_CAPACITY", ArenaVariable = "MALLOC_ARENA_MAX";

    /// <summary>
    /// Whether the arena cap was in the environment when the process started. glibc fixes its cap when the arenas first
    /// fill, and the runtime's own threads have made several by the time <c>Main</c> runs, so a cap set from code only stops
    /// new ones; <c>dotnet run</c> (the launch profile) and the Docker image set <c>MALLOC_ARENA_MAX=1</c> before start.
    /// </summary>
    public static bool ArenaCapFromStart => !OperatingSystem.IsLinux() || Environment.GetEnvironmentVariable(ArenaVariable) is { Length: > 0 };

    /// <summary>Applies both bounds where the platform has them (Linux with glibc); returns what is in force, for the log.</summary>
    public static string Bound()
    {
        if (!OperatingSystem.IsLinux()) return "platform defaults";
        string capacity = NativeEnvironment.PreferDefault(CapacityVariable,
            PrimitiveCacheCapacity.ToString(System.Globalization.CultureInfo.InvariantCulture));
        string arenas = ArenaCapFromStart ? Environment.GetEnvironmentVariable(ArenaVariable)!
            : NativeHeap.TryLimitArenas(ArenaMax) ? $"no new ones ({ArenaVariable} unset at start)" : "glibc default";
        return $"oneDNN primitives {capacity}, malloc arenas {arenas}";
    }
}
