using System.Diagnostics;

namespace DetailFlow.Core.Runtime;

/// <summary>
/// Runs the independent parts of a C# kernel on the calling thread and on helper threads that stay awake for a moment
/// after each job, for kernels too short to wait for a sleeping thread: a decode step's few-row products take 50–250 µs
/// each, about what waking a pool thread or an OpenMP team costs (docs/performance.md, "Few-row products in C#"). The
/// caller never waits for a helper to start: it takes parts from the same counter and, once none is left, waits only for
/// the parts a helper has begun. A helper that does not wake in time (a busy core) leaves its share to the caller.
/// Helpers spin for <see cref="Awake"/> after their last part, then sleep until the next job; one job runs at a time,
/// and a second caller meanwhile runs its parts alone.
/// </summary>
public static class KernelTeam
{
    /// <summary>How long a helper spins for the next job before it sleeps: longer than the gaps between a step's products, far shorter than the gaps between steps.</summary>
    public static readonly TimeSpan Awake = TimeSpan.FromMicroseconds(200);

    private static readonly long s_awakeTicks = (long)(Awake.TotalSeconds * Stopwatch.Frequency);
    private static readonly Lock s_grow = new();
    private static Helper[] s_helpers = [];
    private static int s_busy;

    /// <summary>
    /// <paramref name="part"/>(i) for i in [0, <paramref name="parts"/>), on the calling thread and up to
    /// <paramref name="threads"/> − 1 helpers, in no particular order; returns when every part has run. The first
    /// exception a part throws is rethrown here, after the other parts ran.
    /// </summary>
    public static void Run(int parts, int threads, Action<int> part)
    {
        ArgumentNullException.ThrowIfNull(part);
        var job = new Job(parts, part);
        if (threads > 1 && parts > 1 && Interlocked.CompareExchange(ref s_busy, 1, 0) == 0)
        {
            try
            {
                var helpers = Helpers(Math.Min(threads, parts) - 1);
                for (int h = 0; h < helpers.Length; h++) helpers[h].Offer(job);
                job.Work();
                job.WaitForParts();
            }
            finally
            {
                Volatile.Write(ref s_busy, 0);
            }
        }
        else
        {
            job.Work();
        }
        job.ThrowIfFailed();
    }

    /// <summary>The first <paramref name="count"/> helpers, started on first use.</summary>
    private static ReadOnlySpan<Helper> Helpers(int count)
    {
        var helpers = Volatile.Read(ref s_helpers);
        if (helpers.Length < count)
        {
            lock (s_grow)
            {
                helpers = s_helpers;
                if (helpers.Length < count)
                {
                    var grown = new Helper[count];
                    helpers.CopyTo(grown, 0);
                    for (int h = helpers.Length; h < count; h++) grown[h] = new Helper(h);
                    Volatile.Write(ref s_helpers, helpers = grown);
                }
            }
        }
        return helpers.AsSpan(0, count);
    }

    private sealed class Job(int parts, Action<int> part)
    {
        private int _next = -1, _done;
        private Exception? _failure;

        /// <summary>Takes parts until none is left.</summary>
        public void Work()
        {
            int i;
            while ((i = Interlocked.Increment(ref _next)) < parts)
            {
                try { part(i); }
                catch (Exception e) { Interlocked.CompareExchange(ref _failure, e, null); }
                Interlocked.Increment(ref _done);
            }
        }

        /// <summary>Waits for the parts other threads have begun.</summary>
        public void WaitForParts()
        {
            var spin = new SpinWait();
            while (Volatile.Read(ref _done) < parts) spin.SpinOnce(sleep1Threshold: -1);
        }

        public void ThrowIfFailed()
        {
            if (_failure is { } e) System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(e);
        }
    }

    private sealed class Helper
    {
        private readonly ManualResetEventSlim _wake = new(false, 0);
        private Job? _offered;
        private int _sleeping;

        public Helper(int index) =>
            new Thread(Loop) { IsBackground = true, Name = $"DetailFlow kernel helper {index + 1}" }.Start();

        public void Offer(Job job)
        {
            Volatile.Write(ref _offered, job);
            Interlocked.MemoryBarrier();
            if (Volatile.Read(ref _sleeping) == 1) _wake.Set();
        }

        private void Loop()
        {
            long last = Stopwatch.GetTimestamp();
            while (true)
            {
                if (Interlocked.Exchange(ref _offered, null) is { } job)
                {
                    job.Work();
                    last = Stopwatch.GetTimestamp();
                }
                else if (Stopwatch.GetTimestamp() - last < s_awakeTicks)
                {
                    Thread.SpinWait(20);
                }
                else
                {
                    Volatile.Write(ref _sleeping, 1);
                    Interlocked.MemoryBarrier();
                    if (Volatile.Read(ref _offered) is null) _wake.Wait();
                    _wake.Reset();
                    Volatile.Write(ref _sleeping, 0);
                    last = Stopwatch.GetTimestamp();
                }
            }
        }
    }
}
