using System.Diagnostics;
using DetailFlow.Api.Hosting;
using DetailFlow.Core.Generation;
using DetailFlow.Core.Runtime;

namespace DetailFlow.Api.Batching;

/// <summary>
/// The jobs on the engines' rows (inference thread only): admits a job to its model's engine (or straight to decoding
/// when its codes are all known), steps the engines, turns each step's progress into decode work for the
/// <see cref="DecodeWorker"/> (a stream's first generated preview it decodes itself), and fails jobs when the drain ends them.
/// With <paramref name="eagerFirstPreviews"/> a stream's codes up to its first preview are asked for early
/// (<see cref="GenerationRequest.EagerCodes"/>).
/// </summary>
internal sealed class EngineRows(ModelHost host, ModelState state, DecodeWorker decoder, DetailFlowTelemetry telemetry, ILogger logger,
    IStepGate? stepGate, bool eagerFirstPreviews)
{
    private readonly List<DecodeItem> _decodes = [];
    private readonly List<DecodeItem> _firstPreviews = [];   // decoded on this thread (DecodeWorker.DecodeHere)
    private readonly List<InferenceJob> _live = [];   // jobs handed to an engine
    private readonly Stopwatch _stepClock = new();   // the step running now
    private int _stepRows;

    /// <summary>Jobs handed to an engine and not yet pruned.</summary>
    public IReadOnlyList<InferenceJob> Live => _live;

    /// <summary>
    /// Hands this step's previews and final images to the decode thread, then decodes the streams' first previews here,
    /// beside it: a new stream's first preview does not wait for the final images ahead of it in the decode thread's queue.
    /// </summary>
    public void Flush()
    {
        decoder.Post(_decodes);
        decoder.DecodeHere(_firstPreviews);
    }

    public void Accept(InferenceJob job)
    {
        if (job.Token.IsCancellationRequested) { job.Cancel(); return; }
        var model = job.Model ?? state.Model;
        if (model is null || model.IsDisposed) { job.Fail(new InvalidOperationException("the job's model is no longer loaded")); return; }
        if (DecodeItem.AddKnown(_decodes, job, model)) return;
        GenerationRow row;
        var abort = CancellationTokenSource.CreateLinkedTokenSource(job.Token);
        try
        {
            row = host.EngineFor(model).Submit(new GenerationRequest
            {
                ClassLabel = job.Spec.ClassId, Options = job.Spec.Options, Detail = job.Spec.Tokens,
                Prefix = job.Known.Length > 0 ? job.Known : null,
                EagerCodes = eagerFirstPreviews ? job.FirstPreviewTokens : 0,
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

    /// <summary>Fails the jobs that hold no rows yet, and when <paramref name="late"/> every job still generating.</summary>
    public void Drain(bool late, Func<bool, Exception> stopping)
    {
        foreach (var job in _live.Where(j => !j.IsFinished && (late || !j.Started)))
        {
            job.Fail(stopping(job.Started));
            job.Abort?.Cancel();   // the engine drops the row at its next step
        }
        Prune();
    }

    public void Step(NextDetailEngine engine)
    {
        _stepRows = 0;
        long eager = engine.EagerSteps;
        try
        {
            stepGate?.BeforeStep();
            _stepClock.Restart();
            using var gcGuard = ScalarGcGuard.Enter();   // TorchSharp Scalar temporaries vs. other threads' GCs
            engine.Step();
        }
        catch (Exception e)
        {
            // The engine has already failed every live row of this step; their jobs report the error.
            logger.LogError(e, "Engine step failed");
        }
        if (_stepRows == 0) return;   // no forward ran (only admissions or cancellations)
        telemetry.StepTime.Record(_stepClock.Elapsed.TotalSeconds);
        telemetry.RowsPerStep.Record(_stepRows);
        if (engine.EagerSteps > eager) telemetry.EagerSteps.Add(1);
    }

    private void OnProgress(InferenceJob job, LoadedModel model, GroupProgress p)
    {
        _stepRows += job.Spec.Options.UsesGuidance ? 2 : 1;   // every live request reports once per forward: its cache rows
        if (!job.Started) telemetry.QueueWait.Record((job.Elapsed - _stepClock.Elapsed).TotalSeconds);   // to this step's start
        job.Started = true;

        if (p.IsComplete) _decodes.Add(new DecodeItem(job, model, p.Codes, p.PrefixLength, Final: true, Generated: true));
        else if (job.PreviewTokens.Contains(p.PrefixLength))
        {
            // The job's shortest preview prefix is its first preview: nothing of the job is queued ahead of it.
            var list = p.PrefixLength == job.FirstPreviewTokens ? _firstPreviews : _decodes;
            list.Add(new DecodeItem(job, model, p.Codes, p.PrefixLength, Final: false, Generated: true));
        }
    }

    private void Prune() => _live.RemoveAll(j =>
    {
        if (!j.IsFinished) return false;
        j.Abort?.Dispose();
        return true;
    });
}
