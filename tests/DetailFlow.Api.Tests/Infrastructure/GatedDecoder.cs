using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Net;
using System.Net.Http.Json;
using DetailFlow.Api.Hosting;
using DetailFlow.Core.Decoding;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using static TorchSharp.torch;

namespace DetailFlow.Api.Tests;

/// <summary>
/// A decoder that records the threads it runs on (their names and torch thread counts) and, while closed, blocks every
/// call (or, closed for one thread, that thread's calls) until opened or let through one at a time (<see cref="Pass"/>).
/// </summary>
public sealed class GatedDecoder(IDecoderBackend inner) : IDecoderBackend
{
    private readonly ManualResetEventSlim _open = new(true);
    private readonly SemaphoreSlim _passes = new(0);

    public ConcurrentQueue<string?> Threads { get; } = new();
    public ConcurrentQueue<int> ThreadCounts { get; } = new();
    public SemaphoreSlim Entered { get; } = new(0);
    public string Name => inner.Name;
    public int NumLatentTokens => inner.NumLatentTokens;
    public int PatchSize => inner.PatchSize;

    private volatile string? _heldThread;

    /// <summary>Holds the calls made from now on; with <paramref name="thread"/>, only those of the thread of that name.</summary>
    public void Close(string? thread = null)
    {
        _heldThread = thread;
        _open.Reset();
    }

    public void Open() => _open.Set();

    /// <summary>Lets one held call through; the gate stays closed for the next.</summary>
    public void Pass() => _passes.Release();

    public Tensor Decode(Tensor codes, IReadOnlyList<int> prefixLengths, int imageSize)
    {
        Threads.Enqueue(Thread.CurrentThread.Name);
        ThreadCounts.Enqueue(get_num_threads());
        if (!_open.IsSet && (_heldThread is null || _heldThread == Thread.CurrentThread.Name))
        {
            Entered.Release();
            if (WaitHandle.WaitAny([_open.WaitHandle, _passes.AvailableWaitHandle], TimeSpan.FromSeconds(60)) == WaitHandle.WaitTimeout)
                throw new TimeoutException("the test never opened the decoder");
            if (!_open.IsSet) _passes.Wait(0);
        }
        return inner.Decode(codes, prefixLengths, imageSize);
    }

    public void Dispose() => inner.Dispose();
}
