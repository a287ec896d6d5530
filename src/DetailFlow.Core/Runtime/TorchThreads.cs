using TorchSharp;

namespace DetailFlow.Core.Runtime;

/// <summary>
/// The one place that sets libtorch's intra-op thread count. The count belongs to the calling OS thread (OpenMP's
/// per-thread setting), so each thread that runs torch work configures its own: the CLI's command thread
/// (<c>--threads</c>), the service's inference thread (<c>ModelOptions:Threads</c>), its decode thread
/// (<c>ModelOptions:DecodeThreads</c>) and a fine-tune job's thread (<c>Admin:TrainingThreads</c>).
/// </summary>
public static class TorchThreads
{
    /// <summary>Sets the calling thread's intra-op threads; 0 leaves libtorch's default (one per core).</summary>
    public static void Configure(int threads)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(threads);
        if (threads > 0) torch.set_num_threads(threads);
    }

    /// <summary>The calling thread's intra-op threads in force.</summary>
    public static int Current => torch.get_num_threads();

    /// <summary>
    /// <paramref name="body"/>(from, to) over [0, <paramref name="units"/>): on the calling thread alone when
    /// <paramref name="small"/> (waking another costs more than the work), else in contiguous ranges, one per torch thread
    /// of the calling thread: kernels written in C# use the cores its libtorch ops would.
    /// </summary>
    public static void Split(int units, bool small, Action<int, int> body)
    {
        int workers = small ? 1 : Math.Clamp(Current, 1, Math.Max(1, units));
        if (workers == 1) body(0, units);
        else Parallel.For(0, workers, w => body((int)((long)units * w / workers), (int)((long)units * (w + 1) / workers)));
    }
}
