namespace DetailFlow.Core.Runtime;

/// <summary>
/// Bounds two native caches that a long-running service otherwise lets grow for an hour (docs/memory.md, issue 17), and
/// keeps large blocks out of the C heap.
/// oneDNN keeps every GEMM it JIT-compiled, one per distinct shape; a continuous batch changes its shapes with its rows
/// and their phases (a GPT-L soak still compiled about 20 new ones a minute after four minutes, and the C heap in use grew
/// with them). <see cref="GemmRows"/> rounds the row counts so that the set is small and compiled at start; the cache
/// must hold all of it, or it evicts and recompiles them in turn. glibc opens up to eight arenas per core as threads
/// contend; each keeps its own free memory, and a GPT-L service's arenas kept spreading over new pages while the memory
/// in use stayed flat; with one arena its resident size grew a third as fast (docs/memory.md). Blocks of a megabyte and
/// more (a step's logits, the decoder's activations) get mappings of their own: in the heap they land in the holes the
/// load left, and what a trim hands back faults in again within seconds, so under load the heap sat 80–100 MiB above
/// what it held (docs/memory.md, "Large blocks mapped"). Call before libtorch loads: oneDNN reads its capacity once,
/// from the native environment (<see cref="NativeEnvironment"/>). A value set in the environment wins.
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

    /// <summary>Size from which glibc serves an allocation from a mapping of its own (its default starts at 128 KiB and rises up to 32 MiB as such blocks are freed).</summary>
    public const int MmapThresholdBytes = 1 << 20;

    /// <summary>The threshold while a training run shares the process (<see cref="HeapForTraining"/>): glibc's own ceiling.</summary>
    public const int TrainingMmapThresholdBytes = 32 << 20;

    private static readonly Lock s_mmapLock = new();
    private static bool s_mmapOwned;      // Bound set the threshold (the user did not)
    private static int s_trainingRuns;

    private const string CapacityVariable = "ONEDNN_PRIMITIVE_CACHE_CAPACITY", ArenaVariable = "MALLOC_ARENA_MAX",
        MmapVariable = "MALLOC_MMAP_THRESHOLD_", TunablesVariable = "GLIBC_TUNABLES";

    /// <summary>
    /// Whether the arena cap was in the environment when the process started. glibc fixes its cap when the arenas first
    /// fill, and the runtime's own threads have made several by the time <c>Main</c> runs, so a cap set from code only stops
    /// new ones; <c>dotnet run</c> (the launch profile) and the Docker image set <c>MALLOC_ARENA_MAX=1</c> before start.
    /// </summary>
    public static bool ArenaCapFromStart => !OperatingSystem.IsLinux() || Environment.GetEnvironmentVariable(ArenaVariable) is { Length: > 0 };

    /// <summary>The mmap threshold the user gave glibc at start (<c>MALLOC_MMAP_THRESHOLD_</c> or a <c>GLIBC_TUNABLES</c> entry), or null.</summary>
    public static string? MmapThresholdFromStart =>
        Environment.GetEnvironmentVariable(MmapVariable) is { Length: > 0 } set ? set
        : Environment.GetEnvironmentVariable(TunablesVariable)?.Split(':').FirstOrDefault(t => t.StartsWith("glibc.malloc.mmap_threshold=", StringComparison.Ordinal)) is { } tunable
            ? tunable[(tunable.IndexOf('=', StringComparison.Ordinal) + 1)..] : null;

    /// <summary>Applies the bounds where the platform has them (Linux with glibc); returns what is in force, for the log.</summary>
    public static string Bound()
    {
        if (!OperatingSystem.IsLinux()) return "platform defaults";
        string capacity = NativeEnvironment.PreferDefault(CapacityVariable,
            PrimitiveCacheCapacity.ToString(System.Globalization.CultureInfo.InvariantCulture));
        string arenas = ArenaCapFromStart ? Environment.GetEnvironmentVariable(ArenaVariable)!
            : NativeHeap.TryLimitArenas(ArenaMax) ? $"no new ones ({ArenaVariable} unset at start)" : "glibc default";
        string? start = MmapThresholdFromStart;
        lock (s_mmapLock)
            s_mmapOwned = start is null && NativeHeap.TrySetMmapThreshold(s_trainingRuns > 0 ? TrainingMmapThresholdBytes : MmapThresholdBytes);
        string mmap = start is not null ? $"{start} bytes (set at start)" : s_mmapOwned ? $"{MmapThresholdBytes >> 20} MiB" : "glibc default";
        return $"oneDNN primitives {capacity}, malloc arenas {arenas}, blocks mapped from {mmap}";
    }

    /// <summary>The mmap threshold <see cref="Bound"/> keeps in force now (null where it set none).</summary>
    public static int? MmapThresholdInForce
    {
        get
        {
            lock (s_mmapLock) return !s_mmapOwned ? null : s_trainingRuns > 0 ? TrainingMmapThresholdBytes : MmapThresholdBytes;
        }
    }

    /// <summary>
    /// While a training run shares the process (an admin job), large blocks come from the heap again, where a training
    /// step finds the blocks the step before freed: mapped afresh at every step, the default model's training ran
    /// 1.6–1.8× slower (docs/memory.md, "Large blocks mapped"). Dispose when the run ends; runs may overlap.
    /// </summary>
    public static IDisposable HeapForTraining()
    {
        lock (s_mmapLock)
            if (s_trainingRuns++ == 0 && s_mmapOwned) NativeHeap.TrySetMmapThreshold(TrainingMmapThresholdBytes);
        return new TrainingRun();
    }

    private sealed class TrainingRun : IDisposable
    {
        private int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
            lock (s_mmapLock)
                if (--s_trainingRuns == 0 && s_mmapOwned) NativeHeap.TrySetMmapThreshold(MmapThresholdBytes);
        }
    }
}
