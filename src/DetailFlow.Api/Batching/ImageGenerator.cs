using DetailFlow.Api.Caching;
using DetailFlow.Api.Hosting;
using DetailFlow.Core.Generation;
using Microsoft.Extensions.Options;

namespace DetailFlow.Api.Batching;

/// <summary>The request's deadline passed before its image was ready.</summary>
public sealed class DeadlineExceededException(int seconds) : Exception($"the request did not finish within its deadline of {seconds} s");

/// <summary>One image to produce: class, sampling (seed included), detail, optional known codes (refine).</summary>
public sealed record ImageSpec(long ClassId, SamplingOptions Options, int Tokens, bool Cacheable, long[]? Known = null);

/// <summary>An image, its codes, the id to refine it by, and whether it came from the cache.</summary>
public sealed record ImageOutcome(JobResult Result, string CodesId, bool CacheHit, long Seed);

/// <summary>
/// Cache first, then the batcher: a seeded request whose final image is cached is answered from the cache (unless it
/// streams previews); one whose codes are cached (at this or a greater detail) is only decoded, straight on the decode
/// thread; otherwise it is generated once (continuing any shorter cached prefix). Its codes and final image are cached.
/// The images of one request that need generating are admitted to the queue together or not at all.
/// </summary>
public sealed class ImageGenerator(Batcher batcher, CodeCache cache, DetailFlowTelemetry telemetry, IOptions<BatcherOptions> options)
{
    /// <summary>One image; <paramref name="onPreview"/> must not block (see <see cref="InferenceJob.OnPreview"/>).</summary>
    public async Task<ImageOutcome> GenerateAsync(LoadedModel model, ImageSpec spec, IReadOnlySet<int> previews,
        Action<EncodedImage>? onPreview, CancellationToken ct) => (await GenerateAsync(model, [spec], previews, onPreview, ct))[0];

    /// <summary>Several images of one request: the queue takes all of those needing generation, or the request fails with <see cref="QueueFullException"/> before any runs.</summary>
    public async Task<ImageOutcome[]> GenerateAsync(LoadedModel model, IReadOnlyList<ImageSpec> specs, IReadOnlySet<int> previews,
        Action<EncodedImage>? onPreview, CancellationToken ct)
    {
        int deadline = options.Value.DeadlineSeconds;
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        cts.CancelAfter(TimeSpan.FromSeconds(deadline));
        try
        {
            var cached = await Task.WhenAll(specs.Select(s => CachedAsync(model, s, cts.Token)));
            int toGenerate = specs.Where((s, i) => (Longest(cached[i], s.Known)?.Length ?? 0) < s.Tokens).Count();
            using var admission = batcher.Admit(toGenerate);
            var outcomes = await Task.WhenAll(specs.Select((s, i) => OneAsync(model, s, cached[i], admission, previews, onPreview, cts.Token)));
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

    /// <summary>The longest codes cached for <paramref name="spec"/> (null when it is not cacheable).</summary>
    private async Task<long[]?> CachedAsync(LoadedModel model, ImageSpec spec, CancellationToken ct) => spec.Cacheable
        ? await cache.FindAsync(CodeCache.Key(model, spec.ClassId, spec.Options), ct)
        : null;

    private async Task<ImageOutcome> OneAsync(LoadedModel model, ImageSpec spec, long[]? known, Admission admission,
        IReadOnlySet<int> previews, Action<EncodedImage>? onPreview, CancellationToken ct)
    {
        var (result, hit) = await ProduceAsync(model, spec, known, admission, previews, onPreview, ct);
        if (hit) telemetry.Hit(); else if (spec.Cacheable) telemetry.CacheMisses.Add(1);
        string id = Guid.NewGuid().ToString("N");
        await cache.StoreResultAsync(id, new StoredResult(model.Fingerprint, spec.ClassId, spec.Options, result.Codes), CancellationToken.None);
        return new ImageOutcome(result, id, hit, spec.Options.Seed);
    }

    private async Task<(JobResult Result, bool Hit)> ProduceAsync(LoadedModel model, ImageSpec spec, long[]? known, Admission admission,
        IReadOnlySet<int> previews, Action<EncodedImage>? onPreview, CancellationToken ct)
    {
        InferenceJob Job(long[]? codes, CancellationToken token, Action<EncodedImage>? previewTo) => new()
        {
            ClassId = spec.ClassId, Options = spec.Options, Tokens = spec.Tokens, Known = codes ?? [], Model = model,
            PreviewTokens = previews, OnPreview = previewTo, Token = token,
        };
        if (!spec.Cacheable) return (await RunAsync(Job(spec.Known, ct, onPreview), admission, ct), false);

        string key = CodeCache.Key(model, spec.ClassId, spec.Options);
        async Task<JobResult> Decoded(long[] codes)
        {
            if (previews.Count == 0 && await cache.FindImageAsync(key, spec.Tokens, ct) is { } image)
                return new JobResult(codes[..spec.Tokens], new EncodedImage(spec.Tokens, image.Resolution, image.Png), Generated: false);
            var result = await RunAsync(Job(codes, ct, onPreview), admission, ct);
            await Remember(result);
            return result;
        }
        Task Remember(JobResult r) => cache.StoreImageAsync(key, r.Image.Tokens, new CachedImage(r.Image.Resolution, r.Image.Png), CancellationToken.None);

        if (known is not null && known.Length >= spec.Tokens) return (await Decoded(known), true);
        var start = Longest(known, spec.Known);
        JobResult? mine = null;
        var codes = await cache.GetOrComputeAsync(key, spec.Tokens, async shared =>
        {
            // Identical concurrent requests share this computation, so it runs under the cache's shared token (cancelled
            // only when every waiting caller has gone) and its own deadline, never under this caller's token; this
            // caller's previews stop when it leaves, without failing the others.
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(shared);
            deadline.CancelAfter(TimeSpan.FromSeconds(options.Value.DeadlineSeconds));
            try
            {
                mine = await RunAsync(Job(start, deadline.Token, WhileWaiting(onPreview, ct)), admission, deadline.Token);
                await Remember(mine);   // before the codes reach the waiters, so they find the image too
            }
            catch (OperationCanceledException) when (deadline.IsCancellationRequested && !shared.IsCancellationRequested)
            {
                // This shared computation's own deadline (it may have started before this caller's): a 504 for every waiter, not a 500.
                throw new DeadlineExceededException(options.Value.DeadlineSeconds);
            }
            return mine.Codes;
        }, ct);
        await cache.StoreLongestAsync(key, codes, known, CancellationToken.None);
        return mine is not null ? (mine, false) : (await Decoded(codes), true);
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
        if (job.Known.Length >= job.Tokens) batcher.Decode(job);
        else admission.Submit(job);
        return await job.Result.Task.WaitAsync(ct);
    }
}
