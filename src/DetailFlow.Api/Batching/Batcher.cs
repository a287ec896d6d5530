using DetailFlow.Core.Runtime;
using System.Diagnostics;
using System.Threading.Channels;
using DetailFlow.Api.Hosting;
using DetailFlow.Core.Generation;
using DetailFlow.Core.Imaging;
using Microsoft.Extensions.Options;

namespace DetailFlow.Api.Batching;

/// <summary>
/// Continuous batching: one dedicated inference thread loads the model, owns it and the <see cref="NextDetailEngine"/>,
/// and loops: take new jobs (they join at the next step), run one step for every live row, decode the previews and
/// finished images of that step (Core's <see cref="PreviewRenderer"/>: one decoder call per resolution), hand PNG encoding
/// to the thread pool (<see cref="PngEncoder.Fast"/> for previews, <see cref="PngEncoder.Compact"/> for final images). Jobs beyond
/// the rows wait in a bounded queue; <see cref="TrySubmit"/> refuses when it is full.
/// Graceful shutdown (<see cref="BeginDrain"/>, on <c>ApplicationStopping</c>): queued jobs that have not started fail with
/// <see cref="ServiceStoppingException"/> (503) at once, started ones get up to <see cref="BatcherOptions.DrainSeconds"/> to
/// finish, then they fail the same way; <see cref="StopAsync"/> returns once nothing is left on the rows.
/// </summary>
public sealed class Batcher(
    IOptions<BatcherOptions> options, ModelLoader loader, ModelState state,
    DetailFlowTelemetry telemetry, ILogger<Batcher> logger, IHostApplicationLifetime lifetime) : IHostedService, IDisposable
{
    private readonly Channel<InferenceJob> _incoming = Channel.CreateUnbounded<InferenceJob>(new() { SingleReader = true });
    private readonly CancellationTokenSource _stop = new();
    private readonly CancellationTokenSource _drainSignal = new();
    private readonly TaskCompletionSource _drained = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly List<DecodeItem> _decodes = [];
    private readonly List<InferenceJob> _live = [];   // jobs handed to the engine (inference thread only)
    private Thread? _thread;
    private int _outstanding;
    private int _stepRows;
    private long _drainUntil = long.MaxValue;   // Stopwatch timestamp

    private sealed record DecodeItem(InferenceJob Job, long[] Codes, int Tokens, bool Final, bool Generated);

    /// <summary>Jobs submitted and not finished (being generated or waiting).</summary>
    public int Outstanding => Volatile.Read(ref _outstanding);

    /// <summary>Jobs allowed at once: the rows' worth of work plus the queue.</summary>
    public int Capacity => options.Value.QueueCapacity + options.Value.MaxRows / 2;

    /// <summary>Shutting down: new and unstarted jobs are refused, started ones finish within the drain time.</summary>
    public bool IsDraining => _drainSignal.IsCancellationRequested;

    /// <summary>Queues <paramref name="job"/>; false when the queue is full.</summary>
    public bool TrySubmit(InferenceJob job)
    {
        if (Interlocked.Increment(ref _outstanding) > Capacity)
        {
            Interlocked.Decrement(ref _outstanding);
            return false;
        }
        job.Result.Task.ContinueWith(_ => Interlocked.Decrement(ref _outstanding), TaskScheduler.Default);
        if (!_incoming.Writer.TryWrite(job)) job.Fail(Stopping(started: false));   // the inference thread has exited
        return true;
    }

    public Task StartAsync(CancellationToken cancellationToken)
    {
        telemetry.ObserveQueueDepth(() => Outstanding);
        lifetime.ApplicationStopping.Register(BeginDrain);
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
            model = loader.Load();
        }
        catch (Exception e)
        {
            logger.LogCritical("Model loading failed: {Message}", e.Message);
            state.Failed(e.Message);
            Environment.ExitCode = 1;
            _drained.TrySetResult();
            lifetime.StopApplication();
            return;
        }
        state.Loaded(model);
        using var engine = new NextDetailEngine(model.Gpt, options.Value.MaxRows);
        while (!_stop.IsCancellationRequested)
        {
            while (_incoming.Reader.TryRead(out var job))
            {
                if (IsDraining) job.Fail(Stopping(started: false));
                else Accept(engine, job);
            }
            if (IsDraining) Drain();
            bool generating = engine.ActiveRequests > 0 || engine.PendingRequests > 0;
            if (!generating && _decodes.Count == 0)
            {
                if (IsDraining) _drained.TrySetResult();
                WaitForWork();
                continue;
            }
            if (generating) Step(engine);
            FlushDecodes(model);
        }
        foreach (var job in DrainIncoming().Concat(_live)) job.Fail(Stopping(job.Started));
        _drained.TrySetResult();
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

    private void WaitForWork()
    {
        // Until the drain starts, its signal wakes the thread too (to refuse what is queued); afterwards only work or stop does.
        using var wake = IsDraining ? null : CancellationTokenSource.CreateLinkedTokenSource(_stop.Token, _drainSignal.Token);
        try { _incoming.Reader.WaitToReadAsync(wake?.Token ?? _stop.Token).AsTask().GetAwaiter().GetResult(); }
        catch (OperationCanceledException) { }
    }

    private void Accept(NextDetailEngine engine, InferenceJob job)
    {
        if (job.Token.IsCancellationRequested) { job.Cancel(); return; }
        var known = job.Known;
        int reach = Math.Min(known.Length, job.Tokens);
        foreach (int t in job.PreviewTokens.Where(t => t <= reach && t < job.Tokens).Order())
            _decodes.Add(new DecodeItem(job, known, t, Final: false, Generated: false));
        if (known.Length >= job.Tokens)
        {
            _decodes.Add(new DecodeItem(job, known[..job.Tokens], job.Tokens, Final: true, Generated: false));
            return;
        }
        GenerationRow row;
        var abort = CancellationTokenSource.CreateLinkedTokenSource(job.Token);
        try
        {
            row = engine.Submit(new GenerationRequest
            {
                ClassLabel = job.ClassId, Options = job.Options, Detail = job.Tokens,
                Prefix = known.Length > 0 ? known : null,
                Progress = p => OnProgress(job, p), CancellationToken = abort.Token,
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

    private void OnProgress(InferenceJob job, GroupProgress p)
    {
        _stepRows += job.Options.UsesGuidance ? 2 : 1;   // every live request reports once per forward: its cache rows
        job.Started = true;

        if (p.IsComplete) _decodes.Add(new DecodeItem(job, p.Codes, p.PrefixLength, Final: true, Generated: true));
        else if (job.PreviewTokens.Contains(p.PrefixLength)) _decodes.Add(new DecodeItem(job, p.Codes, p.PrefixLength, Final: false, Generated: true));
    }

    private void Step(NextDetailEngine engine)
    {
        var clock = Stopwatch.StartNew();
        _stepRows = 0;
        try
        {
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

    /// <summary>Decodes this step's prefixes (one decoder call per resolution) and queues their PNG encoding.</summary>
    private void FlushDecodes(LoadedModel model)
    {
        var items = _decodes.Where(d => !d.Job.IsFinished && (d.Final || !d.Job.Token.IsCancellationRequested)).ToList();
        _decodes.Clear();
        if (items.Count == 0) return;
        IReadOnlyList<PreviewImage> images;
        try
        {
            using var gcGuard = ScalarGcGuard.Enter();
            images = model.Previews.Render(items.Select(d => new PreviewItem(d.Codes, d.Tokens)).ToList());
        }
        catch (Exception e)
        {
            logger.LogError(e, "Decoding {Count} prefixes failed", items.Count);
            foreach (var d in items) d.Job.Fail(e);
            return;
        }
        for (int i = 0; i < items.Count; i++) Encode(items[i], images[i]);
    }

    private void Encode(DecodeItem item, PreviewImage image)
    {
        var job = item.Job;
        if (!item.Final && !job.FirstPreviewSeen)
        {
            job.FirstPreviewSeen = true;
            telemetry.TimeToFirstPreview.Record(job.Elapsed.TotalSeconds);
        }
        job.Post(async () =>
        {
            var encoder = item.Final ? PngEncoder.Compact : PngEncoder.Fast;
            var encoded = new EncodedImage(image.PrefixLength, image.Resolution, encoder.Encode(image.Image));
            if (item.Final) job.Result.TrySetResult(new JobResult(item.Codes, encoded, item.Generated));
            else if (job.OnPreview is { } onPreview && !job.Token.IsCancellationRequested) await onPreview(encoded);
        });
    }

    public void Dispose()
    {
        _stop.Dispose();
        _drainSignal.Dispose();
        state.Model?.Dispose();
    }
}
