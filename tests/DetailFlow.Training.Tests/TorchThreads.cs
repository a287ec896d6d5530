using System.Runtime.CompilerServices;
using TorchSharp;

// Training draws from the process-wide torch generator (model init, dropout, class dropout, seeded per step for exact
// resume); tests running in parallel would interleave their draws. One test at a time.
[assembly: CollectionBehavior(DisableTestParallelization = true)]

namespace DetailFlow.Training.Tests;

internal static class TorchThreads
{
    /// <summary>
    /// The training tests run tiny models on a shared 2-core machine: one intra-op thread is ~15 ms per GPT step where
    /// two threads spin against the neighbours at ~250 ms (measured). Set once for the test assembly.
    /// </summary>
    [ModuleInitializer]
    internal static void SingleThread() => torch.set_num_threads(1);
}
