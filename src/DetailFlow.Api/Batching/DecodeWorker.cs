using DetailFlow.Api.Hosting;
using DetailFlow.Core.Imaging;
using DetailFlow.Core.Runtime;
using System.Diagnostics;
using TorchSharp;

namespace DetailFlow.Api.Batching;

/// <summary>A code prefix of a job to decode: a preview, or the final image (<see cref="Final"/>).</summary>
internal sealed record DecodeItem(InferenceJob Job, LoadedModel Model, long[] Codes, int Tokens, bool Final, bool Generated)
{
    /// <summary>Adds the previews, and the final image when every code is known, that the job's known codes allow; true when final.</summary>
    public static bool AddKnown(List<DecodeItem> items, InferenceJob job, LoadedModel model)
    {
        var known = job.Known;
        int tokens = job.Spec.Tokens;
        int reach = Math.Min(known.Length, tokens);
        foreach (int t in job.PreviewTokens.Where(t => t <= reach && t < tokens).Order())
            items.Add(new DecodeItem(job, model, known, t, Final: false, Generated: false));
        if (known.Length < tokens) return false;
        items.Add(new DecodeItem(job, model, known[..tokens], tokens, Final: true, Generated: false));
        return true;
    }
}

/// <summary>
/// The decode thread: it owns every model's decoder and turns the prefixes the inference thread hands over
/// (<see cref="Post"/>) into images — everything waiting in one go, batched per model and resolution
/// (<see cref="PreviewRenderer"/>), the first preview of each stream ahead of the rest, and between the batch's calls
/// any first preview posted meanwhile (<see cref="TakeFirstPreviews"/>) — then queues their PNG encoding on the thread
/// pool (<see cref="PngEncoder.Fast"/> for previews, <see cref="PngEncoder.Compact"/> for final images), in the order
/// they were posted. It runs beside the inference thread so that a finished request's full-resolution decode does not
/// stall the steps of the rows still generating; on a CPU it has its own intra-op threads, chosen before each decoder
/// call: <see cref="ModelOptions.DecodeThreads"/> while steps run, every core while they do not (<see cref="CoreShare"/>).
/// It holds the <see cref="ScalarGcGuard"/> one decoder call at a time, so a step waits for at most one call when a
/// collection is due. A generated first preview does not come here: the inference thread decodes it itself
/// (<see cref="DecodeHere"/>).
/// Previews of a job that ended or was cancelled are skipped; a final image is always decoded.
/// </summary>
internal sealed class DecodeWorker(CoreShare cores, DetailFlowTelemetry telemetry, ILogger logger)
{
    /// <summary>The cores this thread shares with the inference thread.</summary>
    public CoreShare Cores => cores;

    private readonly object _gate = new();
    private List<DecodeItem> _waiting = [];
    private readonly Dictionary<LoadedModel, int> _held = new(ReferenceEqualityComparer.Instance);   // items per model, waiting or decoding
    private Thread? _thread;
    private bool _stopping;

    public void Start()
    {
        _thread = new Thread(Run) { IsBackground = true, Name = "detailflow-decode" };
        _thread.Start();
    }

    /// <summary>Queues <paramref name="items"/> (in order) and clears the list; false (nothing queued) once the thread is stopping.</summary>
    public bool Post(List<DecodeItem> items)
    {
        if (items.Count == 0) return true;
        lock (_gate)
        {
            if (_stopping) return false;
            _waiting.AddRange(items);
            foreach (var item in items) _held[item.Model] = _held.GetValueOrDefault(item.Model) + 1;
            Monitor.PulseAll(_gate);
        }
        items.Clear();
        return true;
    }

    /// <summary>
    /// Decodes <paramref name="items"/> on the calling thread with its torch threads, encodes them as <see cref="Post"/>
    /// would, and clears the list. For the inference thread's streams' first previews: a first preview is a few decoder
    /// tokens (GPT-L's default first preview, 6 codes at 16 px, is 7) and costs the steps tens of milliseconds, where
    /// behind the decode thread's batch of final images it waited seconds (docs/performance.md, "First previews on the
    /// inference thread"). The caller keeps the models alive until it returns.
    /// </summary>
    public void DecodeHere(List<DecodeItem> items)
    {
        DecodeLive(items, shareCores: false);
        items.Clear();
    }

    /// <summary>Nothing is waiting or being decoded.</summary>
    public bool IsIdle
    {
        get { lock (_gate) return _held.Count == 0; }
    }

    /// <summary>Whether a prefix of <paramref name="model"/> is waiting or being decoded (its decoder must stay alive).</summary>
    public bool Holds(LoadedModel model)
    {
        lock (_gate) return _held.ContainsKey(model);
    }

    /// <summary>Decodes what is still queued, then ends the thread; false if it is still decoding after <paramref name="timeout"/>.</summary>
    public bool Stop(TimeSpan timeout)
    {
        lock (_gate)
        {
            _stopping = true;
            Monitor.PulseAll(_gate);
        }
        return _thread?.Join(timeout) ?? true;
    }

    private void Run()
    {
        while (true)
        {
            List<DecodeItem> batch;
            lock (_gate)
            {
                while (_waiting.Count == 0 && !_stopping) Monitor.Wait(_gate);
                if (_waiting.Count == 0) return;
                batch = _waiting;
                _waiting = [];
            }
            try
            {
                Decode(batch);
            }
            catch (Exception e)
            {
                // Decoder failures are reported per model inside; anything else fails this batch's jobs, never the process.
                logger.LogError(e, "The decode thread failed on a batch of {Count} prefixes", batch.Count);
                foreach (var item in batch) item.Job.Fail(e);
            }
            finally
            {
                cores.EndDecode();
                lock (_gate)
                {
                    foreach (var item in batch)
                        if (--_held[item.Model] == 0) _held.Remove(item.Model);
                    Monitor.PulseAll(_gate);
                }
            }
        }
    }

    /// <summary>
    /// Decodes <paramref name="batch"/> one model and resolution at a time, first previews first; before each of those
    /// calls, first previews posted since the batch was taken are taken out of the queue and decoded ahead (added to
    /// <paramref name="batch"/>, whose items the caller releases), so a stream that starts while a large batch is being
    /// decoded waits for one call, not for the batch.
    /// </summary>
    private void Decode(List<DecodeItem> batch)
    {
        var live = batch.Where(IsLive).ToList();
        var jobs = new HashSet<InferenceJob>(batch.Select(d => d.Job), ReferenceEqualityComparer.Instance);
        foreach (var call in Calls(live, d => d.Model.Schedule.DecoderResolution(d.Tokens)))
        {
            List<DecodeItem> arrived;
            lock (_gate) (arrived, _waiting) = TakeFirstPreviews(_waiting, jobs);
            batch.AddRange(arrived);
            DecodeLive(arrived, shareCores: true);
            Decode(call[0].Model, call, shareCores: true);
        }
    }

    /// <summary>
    /// A batch's decoder calls in order: the first previews (<see cref="InOrder"/>), then the rest, one call per model and
    /// resolution, coarsest first. A job's resolution only grows with its tokens, so its prefixes keep their order: grouped
    /// as posted, another job's final image posted first would take a stream's own final image ahead of its last preview.
    /// </summary>
    internal static List<List<DecodeItem>> Calls(List<DecodeItem> live, Func<DecodeItem, int> resolution) =>
        InOrder(live).SelectMany(part => part.GroupBy(d => (d.Model, Resolution: resolution(d)))
            .OrderBy(g => g.Key.Resolution).Select(g => g.ToList())).ToList();

    /// <summary>The live ones of <paramref name="items"/>, one model at a time (<see cref="Decode(LoadedModel, List{DecodeItem}, bool)"/>).</summary>
    private void DecodeLive(List<DecodeItem> items, bool shareCores)
    {
        foreach (var model in items.Where(IsLive).GroupBy(d => d.Model, ReferenceEqualityComparer.Instance))
            Decode((LoadedModel)model.Key!, model.ToList(), shareCores);
    }

    private static bool IsLive(DecodeItem d) => !d.Job.IsFinished && (d.Final || !d.Job.Token.IsCancellationRequested);

    /// <summary>
    /// The first previews among <paramref name="waiting"/> (<see cref="InOrder"/>) of jobs not in <paramref name="decoding"/>
    /// (a job with a prefix in the batch being decoded keeps its order: its coarser preview may still be ahead), and the
    /// rest in order.
    /// </summary>
    internal static (List<DecodeItem> First, List<DecodeItem> Others) TakeFirstPreviews(List<DecodeItem> waiting, IReadOnlySet<InferenceJob> decoding)
    {
        var first = InOrder(waiting)[0].Where(d => !decoding.Contains(d.Job)).ToList();
        if (first.Count == 0) return (first, waiting);
        var taken = first.ToHashSet(ReferenceEqualityComparer.Instance);
        return (first, waiting.Where(d => !taken.Contains(d)).ToList());
    }

    /// <summary>
    /// The order a batch is decoded in: each stream's first preview (the shortest prefix of a job that has shown none),
    /// then the rest as posted. Its client has seen nothing yet, and coarse prefixes are cheap beside the final images of
    /// the same batch.
    /// </summary>
    internal static List<DecodeItem>[] InOrder(List<DecodeItem> live)
    {
        var first = live.Where(d => !d.Final && !d.Job.FirstPreviewSeen).GroupBy(d => d.Job).Select(g => g.MinBy(d => d.Tokens)!).ToList();
        return [first, live.Except(first).ToList()];
    }

    /// <summary>Decodes and encodes <paramref name="items"/>; with <paramref name="shareCores"/> (the decode thread) the threads are chosen before each call.</summary>
    private void Decode(LoadedModel model, List<DecodeItem> items, bool shareCores)
    {
        IReadOnlyList<PreviewImage> images;
        var clock = Stopwatch.StartNew();
        ScalarGcGuard? gcGuard = null;
        try
        {
            // Before each decoder call, not once per batch (docs/performance.md): the GC guard is left and entered again,
            // so that a collection due before the engine's next step runs between two calls instead of holding that step
            // until the whole batch is decoded; and the threads are chosen again, so that a batch begun beside a wave's
            // last step does not keep one core to its end while the engine sits idle.
            images = model.Previews.Render(items.Select(d => new PreviewItem(d.Codes, d.Tokens)).ToList(), beforeCall: () =>
            {
                gcGuard?.Dispose();
                gcGuard = ScalarGcGuard.Enter();
                if (shareCores) TorchThreads.Configure(cores.BeginDecode());
            });
        }
        catch (Exception e)
        {
            logger.LogError(e, "Decoding {Count} prefixes failed", items.Count);
            foreach (var d in items) d.Job.Fail(e);
            return;
        }
        finally
        {
            gcGuard?.Dispose();
        }
        telemetry.DecodeTime.Record(clock.Elapsed.TotalSeconds);
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
        job.Post(() =>
        {
            var encoder = item.Final ? PngEncoder.Compact : PngEncoder.Fast;
            var encoded = new EncodedImage(image.PrefixLength, image.Resolution, encoder.Encode(image.Image));
            if (item.Final) job.Result.TrySetResult(new JobResult(item.Codes, encoded, item.Generated));
            else if (job.OnPreview is { } onPreview && !job.Token.IsCancellationRequested) onPreview(encoded);
            return Task.CompletedTask;
        });
    }
}
