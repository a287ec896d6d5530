using DetailFlow.Api.Caching;
using DetailFlow.Api.Hosting;
using DetailFlow.Core.Generation;
using Microsoft.Extensions.Options;

namespace DetailFlow.Api.Batching;

/// <summary>The request's deadline passed before its image was ready.</summary>
public sealed class DeadlineExceededException(int seconds) : Exception($"the request did not finish within its deadline of {seconds} s");

/// <summary>
/// One image to produce: class, sampling (seed included), detail, optional known codes (refine). A cacheable spec
/// reads its cache entry first; <see cref="Cached"/> is that entry when the endpoint has already read it (refine by id).
/// </summary>
public sealed record ImageSpec(long ClassId, SamplingOptions Options, int Tokens, bool Cacheable, long[]? Known = null)
{
    /// <summary>The cache id (default: <see cref="CodeCache.Id"/> of the class and sampling).</summary>
    public string? CacheId { get; init; }

    public CodeEntry? Cached { get; init; }
}

/// <summary>An image, its codes, the id to refine it by, and whether it came from the cache.</summary>
public sealed record ImageOutcome(JobResult Result, string CodesId, bool CacheHit, long Seed);

/// <summary>
/// Cache first, then the batcher: a request whose codes are cached (at this or a greater detail) is answered from the
/// cached image or only decoded, straight on the decode thread, and writes nothing; otherwise it is generated once
/// (continuing any shorter cached prefix; identical concurrent requests share the work) and its entry is written once.
/// The images of one request that need generating are admitted to the queue together or not at all.
/// </summary>
public sealed class ImageGenerator(Batcher batcher, CodeCache cache, DetailFlowTelemetry telemetry, IOptions<BatcherOptions> options)
{
    /// <summary>One image; <paramref name="onPreview"/> must not block (see <see cref="InferenceJob.OnPreview"/>).</summary>
    public async Task<ImageOutcome> GenerateAsync(LoadedModel model, ImageSpec spec, IReadOnlySet<int> previews,
        Action<EncodedImage>? onPreview, CancellationToken ct) =>
        (await GenerateAsync(model, [spec], previews, onPreview is null ? null : (_, image) => onPreview(image), ct))[0];

    /// <summary>
    /// Several images of one request: the queue takes all of those needing generation, or the request fails with
    /// <see cref="QueueFullException"/> before any runs. Each preview comes with the index of its spec.
    /// </summary>
    public async Task<ImageOutcome[]> GenerateAsync(LoadedModel model, IReadOnlyList<ImageSpec> specs, IReadOnlySet<int> previews,
        Action<int, EncodedImage>? onPreview, CancellationToken ct)
    {
        int deadline = options.Value.DeadlineSeconds;
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        cts.CancelAfter(TimeSpan.FromSeconds(deadline));
        try
        {
            var ids = specs.Select(s => s.CacheId ?? CodeCache.Id(model, s.ClassId, s.Options)).ToArray();
            var cached = await Task.WhenAll(specs.Select((s, i) => CachedAsync(s, ids[i], cts.Token)));
            int toGenerate = specs.Where((s, i) => (Longest(cached[i]?.Codes, s.Known)?.Length ?? 0) < s.Tokens).Count();
            using var admission = batcher.Admit(toGenerate);
            var outcomes = await Task.WhenAll(specs.Select((s, i) =>
                OneAsync(model, s, ids[i], cached[i], admission, previews, onPreview is null ? null : image => onPreview(i, image), cts.Token)));
            telemetry.Requests.Add(specs.Count, new KeyValuePair<string, object?>("outcome", "ok"));
            return outcomes;
        }
        catch (Exception e) when (Outcome(e) is { } outcome && Count(outcome, specs.Count))
        {
            throw;
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested && cts.IsCancellationRequested)
        {
            throw new DeadlineExceededException(deadline);
        }
    }

    /// <summary>The request's one cache read: the entry the endpoint passed, or a cacheable spec's entry.</summary>
    private async Task<CodeEntry?> CachedAsync(ImageSpec spec, string id, CancellationToken ct) =>
        spec.Cached ?? (spec.Cacheable ? await cache.FindAsync(id, ct) : null);

    private async Task<ImageOutcome> OneAsync(LoadedModel model, ImageSpec spec, string id, CodeEntry? cached, Admission admission,
        IReadOnlySet<int> previews, Action<EncodedImage>? onPreview, CancellationToken ct)
    {
        var (result, hit) = await ProduceAsync(new Work(model, spec, id, admission, previews, onPreview), cached, ct);
        if (hit) telemetry.Hit(); else if (spec.Cacheable) telemetry.CacheMisses.Add(1);
        return new ImageOutcome(result, CodeCache.CodesId(id, spec.Tokens), hit, spec.Options.Seed);
    }

    /// <summary>What one image's production needs besides the cached entry.</summary>
    private sealed record Work(LoadedModel Model, ImageSpec Spec, string Id, Admission Admission, IReadOnlySet<int> Previews,
        Action<EncodedImage>? OnPreview)
    {
        public InferenceJob Job(long[]? codes, CancellationToken token, Action<EncodedImage>? previewTo) => new()
        {
            Spec = Spec, Known = codes ?? [], Model = Model,
            PreviewTokens = Previews, OnPreview = previewTo, Token = token,
        };

        public CodeEntry Entry(JobResult r) => new(Model.Fingerprint, Spec.ClassId, Spec.Options, r.Codes, r.Image.Tokens,
            new CachedImage(r.Image.Resolution, r.Image.Png));
    }

    private async Task<(JobResult Result, bool Hit)> ProduceAsync(Work w, CodeEntry? cached, CancellationToken ct)
    {
        var spec = w.Spec;
        if (cached is not null && cached.Codes.Length >= spec.Tokens)
        {
            // A hit: the cached image, or a decode of the cached codes; nothing is written.
            if (w.Previews.Count == 0 && cached.ImageTokens == spec.Tokens)
                return (new JobResult(cached.Codes[..spec.Tokens], new EncodedImage(spec.Tokens, cached.Image.Resolution, cached.Image.Png), Generated: false), true);
            return (await RunAsync(w.Job(cached.Codes, ct, w.OnPreview), w.Admission, ct), true);
        }
        var start = Longest(cached?.Codes, spec.Known);
        if (!spec.Cacheable)
        {
            var own = await RunAsync(w.Job(start, ct, w.OnPreview), w.Admission, ct);
            await cache.StoreAsync(w.Id, w.Entry(own), CancellationToken.None);   // what its codes_id refines
            return (own, false);
        }
        JobResult? mine = null;
        var shared = await cache.ComputeOnceAsync(w.Id, spec.Tokens, async sharedToken =>
        {
            // Identical concurrent requests share this computation, so it runs under the cache's shared token (cancelled
            // only when every waiting caller has gone) and its own deadline, never under this caller's token; this
            // caller's previews stop when it leaves, without failing the others.
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(sharedToken);
            deadline.CancelAfter(TimeSpan.FromSeconds(options.Value.DeadlineSeconds));
            try
            {
                mine = await RunAsync(w.Job(start, deadline.Token, WhileWaiting(w.OnPreview, ct)), w.Admission, deadline.Token);
                await cache.StoreAsync(w.Id, w.Entry(mine), CancellationToken.None);   // before the waiters return, so later requests hit
                return mine;
            }
            catch (OperationCanceledException) when (deadline.IsCancellationRequested && !sharedToken.IsCancellationRequested)
            {
                // This shared computation's own deadline (it may have started before this caller's): a 504 for every waiter, not a 500.
                throw new DeadlineExceededException(options.Value.DeadlineSeconds);
            }
        }, ct);
        if (mine is not null) return (mine, false);
        // Joined another request's computation: its image, or (streaming) a decode here for this caller's previews.
        return w.Previews.Count == 0 ? (shared, true) : (await RunAsync(w.Job(shared.Codes, ct, w.OnPreview), w.Admission, ct), true);
    }
    /// <summary>Forwards previews while <paramref name="caller"/> is live; after that they are dropped.</summary>
    private static Action<EncodedImage>? WhileWaiting(Action<EncodedImage>? onPreview, CancellationToken caller) =>
        onPreview is null ? null : image =>
        {
            if (!caller.IsCancellationRequested) onPreview(image);
        };

    private static string? Outcome(Exception e) => e switch
    {
        QueueFullException => "rejected", ServiceStoppingException => "stopping", DeadlineExceededException => "deadline", OperationCanceledException => "cancelled", _ => "error",
    };

    private bool Count(string outcome, int images)
    {
        telemetry.Requests.Add(images, new KeyValuePair<string, object?>("outcome", outcome));
        return false;
    }

    private static long[]? Longest(long[]? a, long[]? b) => (a?.Length ?? 0) >= (b?.Length ?? 0) ? a : b;

    /// <summary>All codes known: decoded at once, outside the queue. Otherwise generated in <paramref name="admission"/>'s room.</summary>
    private async Task<JobResult> RunAsync(InferenceJob job, Admission admission, CancellationToken ct)
    {
        if (job.Known.Length >= job.Spec.Tokens) batcher.Decode(job);
        else admission.Submit(job);
        return await job.Result.Task.WaitAsync(ct);
    }
}
