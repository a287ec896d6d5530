using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using DetailFlow.Api.Hosting;
using DetailFlow.Training;
using DetailFlow.Training.Checkpointing;
using Microsoft.Extensions.Options;

namespace DetailFlow.Api.Admin;

/// <summary>
/// The hosted training worker: takes queued jobs one at a time, holds each job's lease while it runs (renewed every
/// third of <see cref="AdminOptions.LeaseSeconds"/>), runs it on a dedicated thread with
/// <see cref="AdminOptions.TrainingThreads"/> torch threads, and stores progress (step, loss curve, throughput, ETA,
/// last checkpoint). At start, jobs stored as running by this instance, or whose lease has expired, become
/// <c>interrupted</c> (resume continues from their last checkpoint). With a shared store it also takes over running
/// jobs whose lease expired later (their worker died), continuing them from their last checkpoint, and runs queued jobs
/// that are no longer in the queue (lost with a Redis restart).
/// Metrics: steps trained and jobs finished (by kind and state), jobs running and their latest loss.
/// </summary>
public sealed class JobWorker(IJobStore store, JobEvents events, IOptions<AdminOptions> options, DetailFlowTelemetry telemetry,
    ILogger<JobWorker> logger) : BackgroundService
{
    private static readonly TimeSpan SaveEvery = TimeSpan.FromMilliseconds(250);
    private readonly ConcurrentDictionary<string, CancellationTokenSource> _running = new();
    private readonly ConcurrentDictionary<string, Measurement<double>> _losses = new();

    private string Owner => options.Value.InstanceId;
    private TimeSpan Lease => TimeSpan.FromSeconds(options.Value.LeaseSeconds);

    /// <summary>Stops the job if this process runs it (it finishes its step and writes a checkpoint first).</summary>
    public bool CancelLocal(string id)
    {
        if (!_running.TryGetValue(id, out var cts)) return false;
        cts.Cancel();
        return true;
    }

    protected override async Task ExecuteAsync(CancellationToken stop)
    {
        await Task.Yield();
        telemetry.ObserveJobs(() => _running.Count, () => _losses.Values);
        while (!stop.IsCancellationRequested)   // the store may be unreachable at start (Redis): retry, never stop the host
        {
            try { await RecoverAsync(stop); break; }
            catch (OperationCanceledException) { return; }
            catch (Exception e) { logger.LogError("Recovering jobs failed (retrying): {Message}", e.Message); await Delay(stop); }
        }
        var nextScan = DateTime.UtcNow + Lease;
        while (!stop.IsCancellationRequested)
        {
            try
            {
                string? id = await store.DequeueAsync(TimeSpan.FromSeconds(1), stop);
                if (id is not null) { await TryRunAsync(id, takeOver: false, stop); continue; }
                if (store.Shared && DateTime.UtcNow >= nextScan)
                {
                    nextScan = DateTime.UtcNow + Lease;
                    await TakeOverExpiredAsync(stop);
                }
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested) { break; }
            catch (Exception e) { logger.LogError("The job queue failed: {Message}", e.Message); await Delay(stop); }
        }
    }

    private static async Task Delay(CancellationToken stop)
    {
        try { await Task.Delay(TimeSpan.FromSeconds(1), stop); } catch (OperationCanceledException) { }
    }

    private async Task RecoverAsync(CancellationToken ct)
    {
        foreach (var job in await store.ListAsync(ct))
        {
            if (job.State != JobState.Running) continue;
            bool mine = !store.Shared || job.Owner == Owner;
            if (!mine && await store.IsLeasedAsync(job.Id)) continue;   // another live replica runs it
            if (mine) await store.ReleaseLeaseAsync(job.Id, Owner);
            var latest = Latest(job);
            await store.SaveAsync(latest with
            {
                Step = CheckpointStep(latest.LastCheckpoint), State = JobState.Interrupted, EtaSeconds = null, Phase = null, Updated = DateTimeOffset.UtcNow,
                Error = mine ? "the service stopped while the job ran" : "the worker's lease expired",
            }, ct);
            logger.LogWarning("Job {Id} ({Name}) was running when the service stopped: interrupted at step {Step}", job.Id, job.Name, job.Step);
        }
    }

    private async Task TakeOverExpiredAsync(CancellationToken ct)
    {
        try
        {
            foreach (var job in await store.ListAsync(ct))
                if (job.State == JobState.Running && !_running.ContainsKey(job.Id) && !await store.IsLeasedAsync(job.Id))
                {
                    logger.LogWarning("Job {Id}: the lease of {Owner} expired; taking it over from its last checkpoint", job.Id, job.Owner);
                    await TryRunAsync(job.Id, takeOver: true, ct);
                }
                else if (job.State == JobState.Queued && DateTimeOffset.UtcNow - job.Updated > Lease)
                {
                    // The shared queue was empty when this idle worker looked: the job's entry is gone (a Redis restart
                    // without persistence), and its record came back from the job folder.
                    logger.LogWarning("Job {Id} ({Name}) has been queued since {Updated} but is not in the queue; running it", job.Id, job.Name, job.Updated);
                    await TryRunAsync(job.Id, takeOver: false, ct);
                }
        }
        catch (Exception e) when (e is not OperationCanceledException) { logger.LogError("Scanning for expired leases failed: {Message}", e.Message); }
    }

    private async Task TryRunAsync(string id, bool takeOver, CancellationToken stop)
    {
        if (!await store.TryAcquireLeaseAsync(id, Owner, Lease)) return;
        try
        {
            // Read under the lease, so no other worker can start it between the read and the run (e.g. cancelled while queued).
            if (await store.GetAsync(id, stop) is { } job && job.State == (takeOver ? JobState.Running : JobState.Queued))
                await RunLeasedAsync(job, stop);
        }
        catch (Exception e) when (e is not OperationCanceledException) { logger.LogError(e, "Job {Id} could not be run", id); }
        finally { await store.ReleaseLeaseAsync(id, Owner); }
    }

    private async Task RunLeasedAsync(JobRecord job, CancellationToken stop)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(stop);
        _running[job.Id] = cts;
        var gate = new Lock();
        var current = Started(job);
        await SaveAsync(current);
        bool lostLease = false;
        var heartbeat = HeartbeatAsync(job.Id, cts, () => lostLease = true);

        var lastSave = DateTime.MinValue;
        var kind = new KeyValuePair<string, object?>("kind", job.Spec.Kind);
        long reported = current.Step;
        void Phase(string phase, IReadOnlyList<string> classes)
        {
            lock (gate) current = current with { Phase = phase, ClassNames = classes, Updated = DateTimeOffset.UtcNow };
            Save();
        }
        void Progress(TrainingProgress p)
        {
            if (p.Step > reported) telemetry.JobSteps.Add(p.Step - reported, kind);
            reported = p.Step;
            _losses[job.Id] = new Measurement<double>(p.Loss, new KeyValuePair<string, object?>("job_id", job.Id), kind);
            lock (gate)
                current = current.WithLoss(p.Step, p.Loss) with
                {
                    TotalSteps = p.TotalSteps, StepsPerSecond = p.StepsPerSecond, EtaSeconds = p.Eta?.TotalSeconds, Updated = DateTimeOffset.UtcNow,
                };
            if (DateTime.UtcNow - lastSave >= SaveEvery || p.Step % job.Spec.CheckpointEvery!.Value == 1 || p.Step == p.TotalSteps) Save();
        }
        void Save()
        {
            if (lostLease) return;
            lastSave = DateTime.UtcNow;
            JobRecord snapshot;
            lock (gate) snapshot = current = Latest(current);
            // Progress records are best effort: a store that is down for a moment (a Redis restart) must not fail the
            // training; the next save writes the whole record again, and the lease decides whether the job goes on.
            try { SaveAsync(snapshot).GetAwaiter().GetResult(); }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                logger.LogWarning("Job {Id}: saving its progress failed, training goes on: {Message}", job.Id, e.Message);
            }
        }

        logger.LogInformation("Job {Id} ({Name}, {Kind}) started at step {Step} of {Total}", job.Id, job.Name, job.Spec.Kind, job.Step, job.Spec.Steps);
        var start = current;
        var done = OnTrainingThread(() => JobRunner.Run(start, options.Value.TrainingThreads, Phase, Progress, cts.Token));

        JobRecord final;
        try { final = await OutcomeAsync(job.Id, done, () => { lock (gate) return current; }, () => lostLease, stop); }
        finally
        {
            _running.TryRemove(job.Id, out _);
            _losses.TryRemove(job.Id, out _);
            await cts.CancelAsync();
            await heartbeat;
        }
        if (lostLease) { logger.LogWarning("Job {Id}: lease lost to another worker; not recording the outcome here", job.Id); return; }
        if (!await RecordOutcomeAsync(final, stop)) return;
        telemetry.JobsFinished.Add(1, kind, new KeyValuePair<string, object?>("state", JobEndpoints.Name(final.State)));
    }

    /// <summary>
    /// The record of a run that starts now. A resumed or taken-over job restarts from its newest checkpoint: report that
    /// step at once (not the last step the previous worker reached before it stopped), so the step never runs backwards.
    /// </summary>
    private JobRecord Started(JobRecord job)
    {
        string? checkpoint = Latest(job).LastCheckpoint;
        return job with
        {
            State = JobState.Running, Owner = Owner, Runs = job.Runs + 1, Error = null, Phase = "starting", Updated = DateTimeOffset.UtcNow,
            Step = CheckpointStep(checkpoint), LastCheckpoint = checkpoint ?? job.LastCheckpoint,
        };
    }

    /// <summary>Runs the training on its own background thread (it blocks for the whole job, so not on the pool).</summary>
    private static Task<JobRunner.Outcome> OnTrainingThread(Func<JobRunner.Outcome> run)
    {
        var done = new TaskCompletionSource<JobRunner.Outcome>(TaskCreationOptions.RunContinuationsAsynchronously);
        new Thread(() =>
        {
            try { done.SetResult(run()); }
            catch (Exception e) { done.SetException(e); }
        }) { IsBackground = true, Name = "detailflow-training" }.Start();
        return done.Task;
    }

    /// <summary>Renews the lease every third of its length until <paramref name="cts"/> is cancelled; cancels the run when the lease is lost (calling <paramref name="lost"/> first) or a cancel was requested.</summary>
    private Task HeartbeatAsync(string id, CancellationTokenSource cts, Action lost) => Task.Run(async () =>
    {
        while (!cts.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(Lease / 3, cts.Token);
                if (!await store.RenewLeaseAsync(id, Owner, Lease)) { lost(); cts.Cancel(); }
                else if (await store.IsCancelRequestedAsync(id)) cts.Cancel();
            }
            catch (OperationCanceledException) { }
            catch (Exception e) { logger.LogWarning("Job {Id}: lease renewal failed: {Message}", id, e.Message); }
        }
    }, CancellationToken.None);

    /// <summary>
    /// Writes the final record (and clears the cancel request). The outcome must not be lost to a store that is down for
    /// a moment (a Redis restart): retried every 2 s, renewing the lease so that no worker takes the job over meanwhile,
    /// until the store takes it or the service stops (then the next start finds the job running and marks it interrupted).
    /// </summary>
    private async Task<bool> RecordOutcomeAsync(JobRecord final, CancellationToken stop)
    {
        for (int attempt = 1; ; attempt++)
        {
            try
            {
                await store.SetCancelRequestedAsync(final.Id, false);
                await SaveAsync(final);
                return true;
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                if (attempt == 1)
                    logger.LogWarning("Job {Id}: recording its outcome ({State}) failed, retrying until the store is back: {Message}",
                        final.Id, JobEndpoints.Name(final.State), e.Message);
            }
            try
            {
                await Task.Delay(TimeSpan.FromSeconds(2), stop);
                await store.RenewLeaseAsync(final.Id, Owner, Lease);
            }
            catch (OperationCanceledException) { return false; }
            catch (Exception) { }   // still down: the next attempt says so
        }
    }

    /// <summary>Whether a client asked to cancel; a store that cannot say (down) means yes unless the service is stopping.</summary>
    private async Task<bool> CancelRequestedAsync(string id, CancellationToken stop)
    {
        try { return await store.IsCancelRequestedAsync(id); }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            logger.LogWarning("Job {Id}: reading its cancel request failed: {Message}", id, e.Message);
            return !stop.IsCancellationRequested;
        }
    }

    /// <summary>
    /// The job's final record once the training thread ends: completed, cancelled (a client asked), interrupted (the
    /// service stopped) or failed.
    /// </summary>
    private async Task<JobRecord> OutcomeAsync(string id, Task<JobRunner.Outcome> done, Func<JobRecord> current, Func<bool> lostLease, CancellationToken stop)
    {
        try
        {
            var outcome = await done;
            bool cancelRequested = await CancelRequestedAsync(id, stop);
            var state = !outcome.Result.Cancelled ? JobState.Completed
                : stop.IsCancellationRequested && !cancelRequested ? JobState.Interrupted : JobState.Cancelled;
            var last = current();
            var final = Latest(last) with
            {
                State = state, Step = outcome.Result.FinalStep, EtaSeconds = state == JobState.Completed ? 0 : null, Phase = null,
                LastCheckpoint = outcome.Result.LastCheckpoint ?? last.LastCheckpoint, ClassNames = outcome.ClassNames,
                Error = state == JobState.Interrupted ? "the service stopped while the job ran" : null, Updated = DateTimeOffset.UtcNow,
            };
            if (!lostLease()) logger.LogInformation("Job {Id} {State} at step {Step}; checkpoint {Checkpoint}", id, state, final.Step, final.LastCheckpoint);
            return final;
        }
        catch (Exception e)
        {
            var state = e is OperationCanceledException ? (stop.IsCancellationRequested ? JobState.Interrupted : JobState.Cancelled) : JobState.Failed;
            if (state == JobState.Failed) logger.LogError("Job {Id} failed: {Message}", id, e.Message);
            return Latest(current()) with { State = state, Phase = null, Error = e.Message, Updated = DateTimeOffset.UtcNow };
        }
    }

    /// <summary>The step a checkpoint file holds (its name), 0 for none: where a resumed run continues.</summary>
    private static long CheckpointStep(string? path) =>
        path is not null && long.TryParse(Path.GetFileNameWithoutExtension(path), out long step) ? step : 0;

    /// <summary>The job with its newest checkpoint on disk.</summary>
    private static JobRecord Latest(JobRecord job) => TrainingCheckpoint.Latest(job.RunDir) is { } path ? job with { LastCheckpoint = path } : job;

    private async Task SaveAsync(JobRecord job)
    {
        await store.SaveAsync(job, CancellationToken.None);
        events.Notify(job.Id);
    }
}
