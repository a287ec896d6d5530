using DetailFlow.Core.Runtime;
using System.Diagnostics;
using System.Threading.Channels;
using DetailFlow.Api.Hosting;
using DetailFlow.Core.Generation;
using Microsoft.Extensions.Options;

namespace DetailFlow.Api.Batching;

/// <summary>
/// Continuous batching: one dedicated inference thread loads the model, owns it and the <see cref="NextDetailEngine"/>,
/// and loops: take new jobs (they join at the next step), run one step for every live row, hand the previews and
/// finished images of that step to the <see cref="DecodeWorker"/> (its own thread: decoding and PNG encoding never hold up
/// the next step). Jobs beyond
/// the rows wait in a bounded queue; <see cref="TrySubmit"/> refuses when it is full. Each job names the model it was
/// rented with; after an activation the old model keeps its own engine until its last row finishes, then the engine and
/// the model are disposed here once the decode thread holds none of its prefixes (the GPT belongs to this thread, the
/// decoder to the decode thread).
/// Graceful shutdown (<see cref="BeginDrain"/>, on <c>ApplicationStopping</c>): queued jobs that have not started fail with
/// <see cref="ServiceStoppingException"/> (503) at once, started ones get up to <see cref="BatcherOptions.DrainSeconds"/> to
/// finish, then they fail the same way; <see cref="StopAsync"/> returns once nothing is left on the rows.
/// </summary>
public sealed class Batcher(
    IOptions<BatcherOptions> options, IOptions<ModelOptions> modelOptions, ModelLoader loader, ModelState state,
    DetailFlowTelemetry telemetry, ILogger<Batcher> logger, IHostApplicationLifetime lifetime, IStepGate? stepGate = null)
    : IHostedService, IDisposable
{
    private readonly DecodeWorker _decoder = new(modelOptions.Value.EffectiveDecodeThreads, telemetry, logger);
    private readonly Channel<InferenceJob> _incoming = Channel.CreateUnbounded<InferenceJob>(new() { SingleReader = true });
    private readonly CancellationTokenSource _stop = new();
    private readonly CancellationTokenSource _drainSignal = new();
    private readonly TaskCompletionSource _drained = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly List<DecodeItem> _decodes = [];
    private readonly List<InferenceJob> _live = [];   // jobs handed to an engine (inference thread only)
    private readonly Dictionary<LoadedModel, NextDetailEngine> _engines = new(ReferenceEqualityComparer.Instance);
    private Thread? _thread;
    private int _outstanding;
    private int _disposed;
    private int _stepRows;
    private bool _decoderStopped = true;
    private long _drainUntil = long.MaxValue;   // Stopwatch timestamp

    /// <summary>Jobs submitted and not finished (being generated or waiting).</summary>
    public int Outstanding => Volatile.Read(ref _outstanding);

    /// <summary>Jobs allowed at once: the rows' worth of work plus the queue.</summary>
    public int Capacity => options.Value.QueueCapacity + options.Value.MaxRows / 2;

    /// <summary>Shutting down: new and unstarted jobs are refused, started ones finish within the drain time.</summary>
    public bool IsDraining => _drainSignal.IsCancellationRequested;

    /// <summary>Queues <paramref name="job"/>; false when the queue is full.</summary>
    public bool TrySubmit(InferenceJob job)
    {
        using var admission = TryAdmit(1);
        return admission?.TrySubmit(job) ?? false;
    }

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
            if (Interlocked.CompareExchange(ref _outstanding, seen + count, seen) == seen) return new Admission(this, count);
        }
    }

    internal void Release(int count) => Interlocked.Add(ref _outstanding, -count);

    /// <summary>Queues a job whose room is already reserved; the room is freed when the job ends.</summary>
    internal void Enqueue(InferenceJob job)
    {
        job.Result.Task.ContinueWith(_ => Interlocked.Decrement(ref _outstanding), TaskScheduler.Default);
        if (!_incoming.Writer.TryWrite(job)) job.Fail(Stopping(started: false));   // the inference thread has exited
    }

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
        AddKnown(items, job, model, job.Known);
        if (!_decoder.Post(items)) job.Fail(Stopping(started: false));   // the decode thread has stopped
    }

    /// <summary>The preview and (when all codes are known) final decodes that <paramref name="known"/> already allows.</summary>
    private static bool AddKnown(List<DecodeItem> items, InferenceJob job, LoadedModel model, long[] known)
    {
        int reach = Math.Min(known.Length, job.Tokens);
        foreach (int t in job.PreviewTokens.Where(t => t <= reach && t < job.Tokens).Order())
            items.Add(new DecodeItem(job, model, known, t, Final: false, Generated: false));
        if (known.Length < job.Tokens) return false;
        items.Add(new DecodeItem(job, model, known[..job.Tokens], job.Tokens, Final: true, Generated: false));
        return true;
    }

    public Task StartAsync(CancellationToken cancellationToken)
    {
        telemetry.ObserveQueueDepth(() => Outstanding);
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
        LoadedModel model;
        try
        {
            model = loader.LoadInitial();
        }
        catch (Exception e)
        {
            logger.LogCritical("Model loading failed: {Message}", e.Message);
            state.Failed(e.Message);
            Environment.ExitCode = 1;
            _decoder.Stop(TimeSpan.FromSeconds(1));
            _drained.TrySetResult();
            lifetime.StopApplication();
            return;
        }
        state.Loaded(model);
        try
        {
            while (!_stop.IsCancellationRequested)
            {
                while (_incoming.Reader.TryRead(out var job))
                {
                    if (IsDraining) job.Fail(Stopping(started: false));
                    else Accept(job);
                }
                if (IsDraining) Drain();
                _decoder.Post(_decodes);
                var busy = _engines.Values.Where(e => e.ActiveRequests > 0 || e.PendingRequests > 0).ToList();
                if (busy.Count == 0)
                {
                    DisposeRetired();
                    bool decoding = !_decoder.IsIdle;
                    if (IsDraining && !decoding) _drained.TrySetResult();
                    // Poll while a retired model or a drain waits for the decode thread; otherwise sleep until work arrives.
                    bool poll = state.RetiredCount > 0 || (IsDraining && decoding);
                    WaitForWork(poll ? TimeSpan.FromMilliseconds(50) : Timeout.InfiniteTimeSpan);
                    continue;
                }
                foreach (var engine in busy) Step(engine);
                _decoder.Post(_decodes);
                DisposeRetired();
            }
            foreach (var job in DrainIncoming().Concat(_live)) job.Fail(Stopping(job.Started));
            _drained.TrySetResult();
        }
        finally
        {
            // Before the models it decodes for can be disposed; a decode still running then keeps them alive (the process is exiting).
            _decoderStopped = _decoder.Stop(TimeSpan.FromSeconds(30));
            if (!_decoderStopped) logger.LogWarning("The decode thread did not finish within 30 s; leaving the models to the process exit");
            foreach (var engine in _engines.Values) engine.Dispose();
            _engines.Clear();
        }
    }

    /// <summary>Disposes the engine and weights of every replaced model that no request and no row uses any more.</summary>
    private void DisposeRetired()
    {
        foreach (var old in state.Unrented())
        {
            if (_engines.TryGetValue(old, out var engine) && (engine.ActiveRequests > 0 || engine.PendingRequests > 0)) continue;
            if (_decoder.Holds(old) || !state.TryForget(old)) continue;
            if (engine is not null) { engine.Dispose(); _engines.Remove(old); }
            old.Dispose();
            logger.LogInformation("Model {Name} ({Fingerprint}) retired and disposed", old.Name, old.Fingerprint);
        }
    }

    private NextDetailEngine EngineFor(LoadedModel model)
    {
        if (!_engines.TryGetValue(model, out var engine)) _engines[model] = engine = new NextDetailEngine(model.Gpt, options.Value.MaxRows);
        return engine;
    }

    /// <summary>Refuses jobs that hold no rows yet, and once the drain time is over every job still generating.</summary>
    private void Drain()
    {
        bool late = Stopwatch.GetTimestamp() >= Interlocked.Read(ref _drainUntil);
        foreach (var job in _live.Where(j => !j.IsFinished && (late || !j.Started)))
        {
            job.Fail(Stopping(job.Started));
            job.Abort?.Cancel();   // the engine drops the row at its next step
        }
        Prune();
    }

    private void Prune() => _live.RemoveAll(j =>
    {
        if (!j.IsFinished) return false;
        j.Abort?.Dispose();
        return true;
    });

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

    private void Accept(InferenceJob job)
    {
        if (job.Token.IsCancellationRequested) { job.Cancel(); return; }
        var model = job.Model ?? state.Model;
        if (model is null || model.IsDisposed) { job.Fail(new InvalidOperationException("the job's model is no longer loaded")); return; }
        var known = job.Known;
        if (AddKnown(_decodes, job, model, known)) return;
        GenerationRow row;
        var abort = CancellationTokenSource.CreateLinkedTokenSource(job.Token);
        try
        {
            row = EngineFor(model).Submit(new GenerationRequest
            {
                ClassLabel = job.ClassId, Options = job.Options, Detail = job.Tokens,
                Prefix = known.Length > 0 ? known : null,
                Progress = p => OnProgress(job, model, p), CancellationToken = abort.Token,
            });
        }
        catch (ArgumentException e)
        {
            abort.Dispose();
            job.Fail(e);
            return;
        }
        Prune();
        job.Abort = abort;
        _live.Add(job);
        row.Completion.ContinueWith(t =>
        {
            if (t.IsCanceled) job.Cancel();
            else if (t.IsFaulted) job.Fail(t.Exception!.InnerException ?? t.Exception);
        }, TaskScheduler.Default);
    }

    private void OnProgress(InferenceJob job, LoadedModel model, GroupProgress p)
    {
        _stepRows += job.Options.UsesGuidance ? 2 : 1;   // every live request reports once per forward: its cache rows
        job.Started = true;

        if (p.IsComplete) _decodes.Add(new DecodeItem(job, model, p.Codes, p.PrefixLength, Final: true, Generated: true));
        else if (job.PreviewTokens.Contains(p.PrefixLength)) _decodes.Add(new DecodeItem(job, model, p.Codes, p.PrefixLength, Final: false, Generated: true));
    }

    private void Step(NextDetailEngine engine)
    {
        var clock = Stopwatch.StartNew();
        _stepRows = 0;
        try
        {
            stepGate?.BeforeStep();
            using var gcGuard = ScalarGcGuard.Enter();   // TorchSharp Scalar temporaries vs. other threads' GCs
            engine.Step();
        }
        catch (Exception e)
        {
            // The engine has already failed every live row of this step; their jobs report the error.
            logger.LogError(e, "Engine step failed");
        }
        if (_stepRows == 0) return;   // no forward ran (only admissions or cancellations)
        telemetry.StepTime.Record(clock.Elapsed.TotalSeconds);
        telemetry.RowsPerStep.Record(_stepRows);
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1) return;   // registered twice (singleton + hosted service): disposed twice
        // A host disposed without StopAsync (its start failed after this service started) still ends the thread here.
        _stop.Cancel();
        _incoming.Writer.TryComplete();
        _thread?.Join(TimeSpan.FromSeconds(10));
        // _stop and _drainSignal are never disposed (no timer or wait handle): the host may call StopAsync or BeginDrain after Dispose.
        if (!_decoderStopped) return;
        state.Model?.Dispose();
        foreach (var old in state.Unrented()) if (state.TryForget(old)) old.Dispose();
    }
}
