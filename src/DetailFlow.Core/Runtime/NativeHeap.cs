using System.Runtime.InteropServices;

namespace DetailFlow.Core.Runtime;

/// <summary>
/// The process's native (malloc) heap on Linux: resident size, and glibc's <c>malloc_trim</c>, <c>mallinfo2</c> and
/// arena cap. libtorch allocates every CPU tensor with <c>posix_memalign</c>, and glibc before 2.38 (bug 14581) rarely
/// reuses a freed aligned chunk, so a training loop leaves free memory inside the heap; <c>malloc_trim(0)</c> hands it
/// back to the kernel (numbers: docs/memory.md). Elsewhere (musl, macOS, Windows) <see cref="Trim"/> is a no-op returning false.
/// </summary>
public static class NativeHeap
{
    private static volatile bool s_trimUnavailable = !OperatingSystem.IsLinux();

    /// <summary>Resident set size of the process in bytes (<c>/proc/self/statm</c>); <see cref="Environment.WorkingSet"/> elsewhere.</summary>
    public static long ResidentBytes()
    {
        if (!OperatingSystem.IsLinux()) return Environment.WorkingSet;
        string statm = File.ReadAllText("/proc/self/statm"); // "size resident shared text lib data dt" in pages
        var fields = statm.Split(' ', 3);
        return long.Parse(fields[1], System.Globalization.CultureInfo.InvariantCulture) * Environment.SystemPageSize;
    }

    /// <summary>Returns the heap's free pages to the kernel (glibc <c>malloc_trim(0)</c>); true if the C library has it.</summary>
    public static bool Trim()
    {
        if (s_trimUnavailable) return false;
        try
        {
            MallocTrim(0);
            return true;
        }
        catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException)
        {
            s_trimUnavailable = true; // not glibc (e.g. musl): nothing to trim with
            return false;
        }
    }

    /// <summary>Bytes the C heap has handed out and not had back (glibc <c>mallinfo2</c>: arena and mmapped chunks); null elsewhere.</summary>
    public static long? InUseBytes()
    {
        if (s_mallinfoUnavailable) return null;
        try
        {
            var info = MallInfo2();
            return (long)(info.Uordblks + info.Hblkhd);
        }
        catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException)
        {
            s_mallinfoUnavailable = true;
            return null;
        }
    }

    private static volatile bool s_mallinfoUnavailable = !OperatingSystem.IsLinux();

    /// <summary>Caps the number of malloc arenas (glibc <c>mallopt(M_ARENA_MAX)</c>); false where the C library has no such setting.</summary>
    public static bool TryLimitArenas(int arenas)
    {
        if (!OperatingSystem.IsLinux()) return false;
        try
        {
            return MallOpt(MArenaMax, arenas) == 1;
        }
        catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException)
        {
            return false; // not glibc (e.g. musl)
        }
    }

    /// <summary>
    /// Serves allocations of <paramref name="bytes"/> and more from mappings of their own, returned to the kernel when freed
    /// (glibc <c>mallopt(M_MMAP_THRESHOLD)</c>; fixing it also ends glibc's raising it as mapped blocks are freed); false
    /// where the C library has no such setting.
    /// </summary>
    public static bool TrySetMmapThreshold(int bytes)
    {
        if (!OperatingSystem.IsLinux()) return false;
        try
        {
            return MallOpt(MMmapThreshold, bytes) == 1;
        }
        catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException)
        {
            return false;
        }
    }

    private const int MArenaMax = -8, MMmapThreshold = -3; // M_ARENA_MAX, M_MMAP_THRESHOLD of malloc.h

    [StructLayout(LayoutKind.Sequential)]
    private struct MallInfo2Result
    {
        public nuint Arena, Ordblks, Smblks, Hblks, Hblkhd, Usmblks, Fsmblks, Uordblks, Fordblks, Keepcost;
    }

    [DllImport("libc", EntryPoint = "mallinfo2")]
    private static extern MallInfo2Result MallInfo2();

    [DllImport("libc", EntryPoint = "mallopt")]
    private static extern int MallOpt(int param, int value);

    [DllImport("libc", EntryPoint = "malloc_trim")]
    private static extern int MallocTrim(nuint pad);
}
