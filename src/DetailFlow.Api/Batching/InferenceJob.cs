using System.Diagnostics;
using DetailFlow.Core.Generation;

namespace DetailFlow.Api.Batching;

/// <summary>A PNG at one prefix length.</summary>
public sealed record EncodedImage(int Tokens, int Resolution, byte[] Png);

/// <summary>The final codes and image of a job; <see cref="Generated"/> is false when no forward ran (all codes known).</summary>
/// <remarks>Never changed once made, so identical requests that share a computation share the instance.</remarks>
[System.ComponentModel.ImmutableObject(true)]
public sealed record JobResult(long[] Codes, EncodedImage Image, bool Generated);

/// <summary>
/// One image for the <see cref="Batcher"/>: generate (or continue <see cref="Known"/>) up to <see cref="Tokens"/>,
/// decode the requested preview prefixes and the final prefix on the decode thread, PNG-encode on the thread pool in
/// order, then complete <see cref="Result"/>.
/// </summary>
public sealed class InferenceJob
{
    private readonly Lock _chainLock = new();
    private Task _chain = Task.CompletedTask;
    private readonly Stopwatch _clock = Stopwatch.StartNew();

    /// <summary>The image asked for: class, sampling and detail, as validated (the same record from the endpoint on).</summary>
    public required ImageSpec Spec { get; init; }

    /// <summary>The model the request rented (null: the active model when the batcher accepts the job).</summary>
    public Hosting.LoadedModel? Model { get; init; }

    /// <summary>Codes already known (the cache's or the spec's own); generation continues after them.</summary>
    public long[] Known { get; init; } = [];

    /// <summary>Prefix lengths to preview (empty unless streaming).</summary>
    public IReadOnlySet<int> PreviewTokens { get; init; } = new HashSet<int>();

    /// <summary>The shortest preview prefix (the job's first preview), 0 without previews.</summary>
    internal int FirstPreviewTokens => PreviewTokens.Count > 0 ? PreviewTokens.Min() : 0;

    /// <summary>
    /// Receives each preview, in order, on the job's PNG chain (off the inference thread). It must not block: the final
    /// image waits behind it, for every caller sharing the job.
    /// </summary>
    public Action<EncodedImage>? OnPreview { get; init; }

    public CancellationToken Token { get; init; }

    public TaskCompletionSource<JobResult> Result { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    internal bool FirstPreviewSeen { get; set; }

    /// <summary>Cancels the job's engine row (linked to <see cref="Token"/>); the batcher's handle for shutdown.</summary>
    internal CancellationTokenSource? Abort { get; set; }

    /// <summary>A forward has run for this job (it holds rows); unstarted jobs are refused at shutdown.</summary>
    internal bool Started { get; set; }
    internal TimeSpan Elapsed => _clock.Elapsed;
    internal bool IsFinished => Result.Task.IsCompleted;

    /// <summary>Runs <paramref name="work"/> after the job's earlier PNG work (so previews precede the final image).</summary>
    internal void Post(Func<Task> work)
    {
        lock (_chainLock)
            _chain = _chain.ContinueWith(async _ =>
            {
                try { await work(); }
                catch (Exception e) { Result.TrySetException(e); }
            }, CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default).Unwrap();
    }

    internal void Cancel() => Result.TrySetCanceled(Token);
    internal void Fail(Exception error) => Result.TrySetException(error);
}
