using DetailFlow.Api.Hosting;

namespace DetailFlow.Api.Batching;

/// <summary>
/// The cores the inference thread and the decode thread share. Before each unit of work (a step, a decoder call)
/// a thread asks for its torch threads: its planned share (<see cref="ModelOptions.Threads"/>,
/// <see cref="ModelOptions.DecodeThreads"/>) while the other thread has work too, every core while the other is idle.
/// A lone request's steps and its final decode never overlap, and under a full batch the decoder is busy a third of
/// the time or less, so fixed shares leave a core idle most of the time (docs/performance.md). Only when both counts
/// come from the <see cref="ServingPlan"/> (<see cref="ModelOptions.CoresShared"/>): explicit settings are kept as given.
/// A thread that starts while the other is mid-way through a unit at every core oversubscribes the cores until that
/// unit ends (one step or one decoder call).
/// </summary>
internal sealed class CoreShare
{
    private readonly int _engine, _decode, _all;
    private readonly bool _shared;
    private int _stepping, _decoding;

    public CoreShare(int cores, int engineThreads, int decodeThreads, bool shared)
    {
        _engine = engineThreads;
        _decode = decodeThreads;
        _shared = shared && cores > 1;
        _all = Math.Max(cores, Math.Max(engineThreads, decodeThreads));
    }

    /// <summary>The share of <paramref name="o"/> (already planned) on this machine.</summary>
    public static CoreShare For(ModelOptions o) => new(Environment.ProcessorCount, o.Threads, o.EffectiveDecodeThreads, o.CoresShared);

    /// <summary>Torch threads for the inference thread's next step; it counts as stepping until <see cref="EndSteps"/>.</summary>
    public int BeginStep()
    {
        Volatile.Write(ref _stepping, 1);
        return _shared && Volatile.Read(ref _decoding) == 0 ? _all : _engine;
    }

    /// <summary>The inference thread has no more steps to run (it goes to wait for work).</summary>
    public void EndSteps() => Volatile.Write(ref _stepping, 0);

    /// <summary>Torch threads for the decode thread's next decoder call; it counts as decoding until <see cref="EndDecode"/> (its batch is done).</summary>
    public int BeginDecode()
    {
        Volatile.Write(ref _decoding, 1);
        return _shared && Volatile.Read(ref _stepping) == 0 ? _all : _decode;
    }

    public void EndDecode() => Volatile.Write(ref _decoding, 0);

    /// <summary>Every thread count a step may run under (kernels are compiled per count: <see cref="Core.Runtime.GemmRows.Warm"/>).</summary>
    public IReadOnlyList<int> StepCounts => _shared && _all != _engine ? [_engine, _all] : [_engine];

    /// <summary>Every thread count a decode may run under.</summary>
    public IReadOnlyList<int> DecodeCounts => _shared && _all != _decode ? [_decode, _all] : [_decode];
}
