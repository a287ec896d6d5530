using System.Diagnostics;
using System.Threading.Channels;
using DetailFlow.Api.Hosting;
using DetailFlow.Core.Generation;
using DetailFlow.Core.Runtime;
using Microsoft.Extensions.Options;

namespace DetailFlow.Api.Batching;

/// <summary>
/// Continuous batching: one dedicated inference thread loads the model (<see cref="ModelHost"/>, which also keeps an
/// engine per model and retires replaced ones) and loops: take new jobs (they join at the next step), run one step for
/// every live row, hand the previews and finished images of that step to the <see cref="DecodeWorker"/> (its own thread:
/// decoding and PNG encoding never hold up the next step; the two divide the cores by <see cref="CoreShare"/>). Jobs
/// beyond the rows wait in a bounded queue; a request's jobs are admitted together or refused (<see cref="TryAdmit"/>).
/// Jobs whose codes are all known skip the queue and the inference thread (<see cref="Decode"/>).
/// Graceful shutdown (<see cref="BeginDrain"/>, on <c>ApplicationStopping</c>): queued jobs that have not started fail with
/// <see cref="ServiceStoppingException"/> (503) at once, started ones get up to <see cref="BatcherOptions.DrainSeconds"/> to
/// finish, then they fail the same way; <see cref="StopAsync"/> returns once nothing is left on the rows.
/// </summary>
public sealed class Batcher(
    IOptions<BatcherOptions> options, IOptions<ModelOptions> modelOptions, ModelLoader loader, ModelState state,
    DetailFlowTelemetry telemetry, ILogger<Batcher> logger, IHostApplicationLifetime lifetime, IStepGate? stepGate = null)
    : IHostedService, IDisposable
{
    private readonly DecodeWorker _decoder = new(CoreShare.For(modelOptions.Value), telemetry, logger);
    private ModelHost? _host;
    private readonly Channel<InferenceJob> _incoming = Channel.CreateUnbounded<InferenceJob>(new() { SingleReader = true });
    private readonly CancellationTokenSource _stop = new();
    private readonly CancellationTokenSource _drainSignal = new();
    private readonly TaskCompletionSource _drained = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Thread? _thread;
    private int _outstanding;
    private int _disposed;
    private int _rowsInUse;   // written by the inference thread each loop, read by the rows-in-use gauge
    private bool _decoderStopped = true;
    private long _drainUntil = long.MaxValue;   // Stopwatch timestamp
    private readonly CompletionRate _rate = new();
    private readonly HeapTrims _heap = new();

    /// <summary>Jobs submitted and not finished (being generated or waiting).</summary>
    public int Outstanding => Volatile.Read(ref _outstanding);

    /// <summary>
    /// Jobs allowed at once: the rows' worth of work plus the queue, and no more than the measured rate finishes within
    /// half the deadline (never less than the rows' worth), so a slow model refuses early instead of timing out.
    /// </summary>
    public int Capacity => CapacityAt(options.Value, _rate.PerSecond);

    internal static int CapacityAt(BatcherOptions o, double? perSecond)
    {
        int rows = Math.Max(1, o.MaxRows / 2), configured = o.QueueCapacity + rows;
        return perSecond is { } rate ? (int)Math.Clamp(rate * o.DeadlineSeconds / 2, rows, configured) : configured;
    }

    /// <summary>Shutting down: new and unstarted jobs are refused, started ones finish within the drain time.</summary>
    public bool IsDraining => _drainSignal.IsCancellationRequested;

    /// <summary>Queues <paramref name="job"/>; false when the queue is full.</summary>
    public bool TrySubmit(InferenceJob job)
    {
        using var admission = TryAdmit(1);
        return admission?.TrySubmit(job) ?? false;
    }

    /// <summary><see cref="TryAdmit"/>, or <see cref="QueueFullException"/> when the queue cannot take them all.</summary>
    public Admission Admit(int count) => TryAdmit(count) ?? throw new QueueFullException(options.Value.RetryAfterSeconds);

    /// <summary>
    /// Reserves room for <paramref name="count"/> jobs as one unit: all of them or none (null, nothing reserved), so a
    /// request for several images is refused before any of them runs. Unused room is given back on dispose.
    /// </summary>
    public Admission? TryAdmit(int count)
    {
        while (true)
        {
            int seen = Volatile.Read(ref _outstanding);
            if (count > 0 && seen + count > Capacity) return null;
            if (Interlocked.CompareExchange(ref _outstanding, seen + count, seen) == seen) return new Admission(this, count, options.Value.RetryAfterSeconds);
        }
    }

    internal void Release(int count) => Interlocked.Add(ref _outstanding, -count);

    /// <summary>Queues a job whose room is already reserved; the room is freed when the job ends.</summary>
    internal void Enqueue(InferenceJob job)
    {
        job.Result.Task.ContinueWith(t =>
        {
            Interlocked.Decrement(ref _outstanding);
            if (t.IsCompletedSuccessfully) _rate.Completed();
        }, TaskScheduler.Default);
        if (!_incoming.Writer.TryWrite(job)) job.Fail(Stopping(started: false));   // the inference thread has exited
    }

    /// <summary>Bytes of the KV caches of the engines built so far (the gauge <c>detailflow.memory.kv_cache</c>).</summary>
    public long KvCacheBytes => Volatile.Read(ref _host)?.CacheBytes ?? 0;

    /// <summary>
    /// Builds <paramref name="model"/>'s engine ahead of its activation, on the calling thread (<see cref="ModelHost.Prebuild"/>);
    /// nothing before the inference thread has started (its first step then builds it).
    /// </summary>
    public void Prebuild(LoadedModel model) => Volatile.Read(ref _host)?.Prebuild(model);

    /// <summary>
    /// Decodes a job whose codes are all known (a cache hit) on the decode thread directly: it takes no room in the queue
    /// and never waits for the inference thread.
    /// </summary>
    public void Decode(InferenceJob job)
    {
        if (IsDraining) { job.Fail(Stopping(started: false)); return; }
        var model = job.Model ?? state.Model;
        if (model is null || model.IsDisposed) { job.Fail(new InvalidOperationException("the job's model is no longer loaded")); return; }
        var items = new List<DecodeItem>();
        DecodeItem.AddKnown(items, job, model);
        if (!_decoder.Post(items)) job.Fail(Stopping(started: false));   // the decode thread has stopped
    }

    public Task StartAsync(CancellationToken cancellationToken)
    {
        telemetry.ObserveQueueDepth(() => Outstanding);
        telemetry.ObserveRowsInUse(() => Volatile.Read(ref _rowsInUse));
        telemetry.ObserveKvCache(() => KvCacheBytes);
        telemetry.ObserveHeapTrims(() => _heap.Trims);
        lifetime.ApplicationStopping.Register(BeginDrain);
        _decoder.Start();
        _thread = new Thread(Run) { IsBackground = true, Name = "detailflow-inference" };
        _thread.Start();
        return Task.CompletedTask;
    }

    /// <summary>Starts the drain (idempotent): called when the host begins to stop (SIGTERM).</summary>
    public void BeginDrain()
    {
        if (IsDraining) return;
        Interlocked.Exchange(ref _drainUntil, Stopwatch.GetTimestamp() + options.Value.DrainSeconds * Stopwatch.Frequency);
        logger.LogInformation("Shutting down: refusing new work, draining started generations for up to {Seconds} s", options.Value.DrainSeconds);
        _drainSignal.Cancel();
    }

    /// <summary>Drains (see <see cref="BeginDrain"/>), waiting at most until <paramref name="cancellationToken"/> (the host's shutdown timeout), then stops the thread.</summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        BeginDrain();
        if (_thread is not null)
        {
            try { await _drained.Task.WaitAsync(cancellationToken); }
            catch (OperationCanceledException) { logger.LogWarning("Shutdown timeout reached before the batcher drained"); }
        }
        _stop.Cancel();
        _incoming.Writer.TryComplete();
        _thread?.Join(TimeSpan.FromSeconds(10));
    }

    private void Run()
    {
        logger.LogInformation("Serving plan on {Cores} cores: engine {Threads} torch threads, decode thread {DecodeThreads}, {MaxRows} rows per step, " +
            "{Sharing} (ModelOptions:Threads, DecodeThreads, BatcherOptions:MaxRows; 0 = from the machine)",
            Environment.ProcessorCount, modelOptions.Value.Threads, modelOptions.Value.EffectiveDecodeThreads, options.Value.MaxRows,
            modelOptions.Value.CoresShared ? "each on every core while the other is idle" : "fixed");
        var host = _host = new ModelHost(loader, state, _decoder, options.Value, logger);
        var rows = new EngineRows(host, state, _decoder, telemetry, logger, stepGate, options.Value.EagerFirstPreviews);
        if (!host.TryLoad())
        {
            Environment.ExitCode = 1;
            _decoder.Stop(TimeSpan.FromSeconds(1));
            _drained.TrySetResult();
            lifetime.StopApplication();
            return;
        }
        try
        {
            while (!_stop.IsCancellationRequested)
            {
                while (_incoming.Reader.TryRead(out var job))
                {
                    if (IsDraining) job.Fail(Stopping(started: false));
                    else rows.Accept(job);
                }
                if (IsDraining) rows.Drain(Stopwatch.GetTimestamp() >= Interlocked.Read(ref _drainUntil), started => Stopping(started));
                rows.Flush();
                Volatile.Write(ref _rowsInUse, host.RowsInUse);
                var busy = host.Busy();
                if (busy.Count == 0)
                {
                    _decoder.Cores.EndSteps();
                    host.DisposeRetired();
                    bool decoding = !_decoder.IsIdle;
                    if (IsDraining && !decoding) _drained.TrySetResult();
                    _heap.WhenIdle();
                    // Poll while a retired model or a drain waits for the decode thread; otherwise sleep until work
                    // arrives or the idle trim is due.
                    bool poll = host.HasRetired || (IsDraining && decoding);
                    WaitForWork(poll ? TimeSpan.FromMilliseconds(50) : _heap.IdleTrimDueIn ?? Timeout.InfiniteTimeSpan);
                    continue;
                }
                TorchThreads.Configure(_decoder.Cores.BeginStep());   // every core while nothing is decoding
                foreach (var engine in busy) rows.Step(engine);
                _heap.AfterStep();
                if (!host.AnyBusy) _decoder.Cores.EndSteps();   // before the last decodes are posted: they get every core
                rows.Flush();
                host.DisposeRetired();
            }
            foreach (var job in DrainIncoming().Concat(rows.Live).ToList()) job.Fail(Stopping(job.Started));
            _drained.TrySetResult();
        }
        finally
        {
            // Before the models it decodes for can be disposed; a decode still running then keeps them alive (the process is exiting).
            _decoderStopped = _decoder.Stop(TimeSpan.FromSeconds(30));
            if (!_decoderStopped) logger.LogWarning("The decode thread did not finish within 30 s; leaving the models to the process exit");
            host.DisposeEngines();
        }
    }

    private ServiceStoppingException Stopping(bool started) => new(started, options.Value.DrainSeconds, options.Value.RetryAfterSeconds);

    private IEnumerable<InferenceJob> DrainIncoming()
    {
        while (_incoming.Reader.TryRead(out var job)) yield return job;
    }

    private void WaitForWork(TimeSpan timeout)
    {
        // Until the drain starts, its signal wakes the thread too (to refuse what is queued); afterwards only work, stop or the timeout does.
        try
        {
            using var wait = IsDraining ? CancellationTokenSource.CreateLinkedTokenSource(_stop.Token)
                : CancellationTokenSource.CreateLinkedTokenSource(_stop.Token, _drainSignal.Token);
            wait.CancelAfter(timeout);
            _incoming.Reader.WaitToReadAsync(wait.Token).AsTask().GetAwaiter().GetResult();
        }
        catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException) { }
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1) return;   // registered twice (singleton + hosted service): disposed twice
        // A host disposed without StopAsync (its start failed after this service started) still ends the thread here.
        _stop.Cancel();
        _incoming.Writer.TryComplete();
        _thread?.Join(TimeSpan.FromSeconds(10));
        // _stop and _drainSignal are never disposed (no timer or wait handle): the host may call StopAsync or BeginDrain after Dispose.
        if (_decoderStopped) _host?.DisposeModels();
    }
}

/// <summary>The service is shutting down: the job had not started, or did not finish within the drain time.</summary>
public sealed class ServiceStoppingException(bool started, int drainSeconds, int retryAfterSeconds) : Exception(started
    ? $"the service is shutting down and the image did not finish within the drain time of {drainSeconds} s"
    : "the service is shutting down and no longer starts new work")
{
    public int RetryAfterSeconds { get; } = retryAfterSeconds;
}
