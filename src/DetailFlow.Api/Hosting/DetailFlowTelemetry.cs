using System.Diagnostics.Metrics;
using DetailFlow.Core.Runtime;

namespace DetailFlow.Api.Hosting;

/// <summary>The service's one <see cref="Meter"/> (exported at <c>/metrics</c>).</summary>
public sealed class DetailFlowTelemetry : IDisposable
{
    public const string MeterName = "DetailFlow.Api";

    /// <summary>
    /// Tag combinations kept per metric (OpenTelemetry's default is 2,000): each metric's point array is allocated at that
    /// size up front, 9.4 MB over this service's ~65 metrics. Every tag here has a handful of values (route, method,
    /// status, outcome, kind); combinations beyond the limit are summed into one overflow series, not dropped.
    /// </summary>
    public const int SeriesPerMetric = 256;
    private readonly Meter _meter = new(MeterName, "1.0");

    public DetailFlowTelemetry()
    {
        Requests = _meter.CreateCounter<long>("detailflow.requests", description: "Generation requests by outcome");
        CacheHits = _meter.CreateCounter<long>("detailflow.cache.hits", description: "Images served from cached codes");
        CacheMisses = _meter.CreateCounter<long>("detailflow.cache.misses", description: "Seeded images that had to be generated");
        RowsPerStep = _meter.CreateHistogram<int>("detailflow.step.rows", description: "KV-cache rows per engine step");
        StepTime = _meter.CreateHistogram<double>("detailflow.step.duration", "s", "Engine step time");
        EagerSteps = _meter.CreateCounter<long>("detailflow.step.eager", description: "Engine steps that fed only streams short of their first preview, apart from their batch mates");
        TimeToFirstPreview = _meter.CreateHistogram<double>("detailflow.preview.first", "s", "Time from submission to the first preview");
        QueueWait = _meter.CreateHistogram<double>("detailflow.queue.wait", "s", "Time from submission to the start of a generation's first engine step (its wait for rows)");
        JobSteps = _meter.CreateCounter<long>("detailflow.jobs.steps", description: "Training steps run by fine-tune jobs, by kind");
        JobsFinished = _meter.CreateCounter<long>("detailflow.jobs.finished", description: "Fine-tune jobs that stopped on this instance, by kind and state");
        DecodeTime = _meter.CreateHistogram<double>("detailflow.decode.duration", "s", "Decoder call time (one model's waiting previews and final images)");
        // Memory, sampled for soak runs: the runtime meter's heap sizes only change when a collection runs.
        _meter.CreateObservableGauge("detailflow.memory.resident", NativeHeap.ResidentBytes, "By", "Resident set size of the process");
        _meter.CreateObservableGauge("detailflow.memory.managed", () => GC.GetTotalMemory(false), "By", "Managed heap bytes in use, garbage not yet collected included");
        _meter.CreateObservableGauge("detailflow.memory.native", () => NativeHeap.InUseBytes() is { } b ? [new Measurement<long>(b)] : Array.Empty<Measurement<long>>(),
            "By", "C heap bytes in use (libtorch's CPU tensors included)");
        _meter.CreateObservableCounter("detailflow.gc.step_gate.collections", () => ScalarGcGuard.Collections, description: "Collections run between model steps");
        _meter.CreateObservableCounter("detailflow.gc.step_gate.pause", () => ScalarGcGuard.CollectionTime.TotalSeconds, "s", "Time spent in collections run between model steps");
    }

    public Counter<long> Requests { get; }
    public Counter<long> CacheHits { get; }
    public Counter<long> CacheMisses { get; }
    public Histogram<int> RowsPerStep { get; }
    public Histogram<double> StepTime { get; }
    public Counter<long> EagerSteps { get; }
    public Histogram<double> TimeToFirstPreview { get; }
    public Histogram<double> QueueWait { get; }
    public Histogram<double> DecodeTime { get; }
    public Counter<long> JobSteps { get; }
    public Counter<long> JobsFinished { get; }

    /// <summary>Hit/miss totals for the X-Cache header tests and /v1/models diagnostics.</summary>
    public long HitCount => Interlocked.Read(ref _hits);
    private long _hits;

    public void Hit() { Interlocked.Increment(ref _hits); CacheHits.Add(1); }

    /// <summary>The served model's weight precisions (gauge 1 per component, tags <c>component</c> = gpt|decoder and <c>dtype</c>).</summary>
    public void SetPrecision(string gpt, string decoder)
    {
        if (Interlocked.Exchange(ref _precision, [new("component", "gpt", gpt), new("component", "decoder", decoder)]) is null)
            _meter.CreateObservableGauge("detailflow.model.precision", () => Volatile.Read(ref _precision)!.Select(p =>
                new Measurement<int>(1, new KeyValuePair<string, object?>("component", p.Value), new KeyValuePair<string, object?>("dtype", p.DType))),
                description: "Weight precision of the served model (ModelOptions:DType; Auto chooses per machine)");
    }

    private (string Key, string Value, string DType)[]? _precision;

    /// <summary>Native heap trims run by the inference thread (<see cref="Batching.HeapTrims"/>): a soak run's sawtooth, counted.</summary>
    public void ObserveHeapTrims(Func<int> trims) =>
        _meter.CreateObservableCounter("detailflow.memory.native_trims", trims, description: "malloc_trim calls by the inference thread (between steps, once when idle)");

    /// <summary>
    /// Bytes the in-process result cache holds (codes, final PNGs, refine results), as counted against
    /// <c>CacheOptions:MemoryMegabytes</c>: the part of the resident set that grows with traffic by design.
    /// </summary>
    public void ObserveResultCache(Func<long> bytes) =>
        _meter.CreateObservableGauge("detailflow.memory.result_cache", bytes, "By", "Bytes held by the in-process result cache (codes, final PNGs, refine results), counted against CacheOptions:MemoryMegabytes");

    /// <summary>Bytes of the engines' KV caches: allocated when a model's engine is built (before ready for the first model).</summary>
    public void ObserveKvCache(Func<long> bytes) =>
        _meter.CreateObservableGauge("detailflow.memory.kv_cache", bytes, "By", "Bytes of the KV caches of the loaded models' engines");

    public void ObserveQueueDepth(Func<int> depth) => _meter.CreateObservableGauge("detailflow.queue.depth", depth, description: "Requests submitted and not yet finished");

    /// <summary>
    /// KV-cache rows held by live generations (all models), and the process's OS threads: the runtime's meter counts
    /// only thread-pool threads, not the inference, decode and native (OpenMP) threads a soak run checks stay flat.
    /// </summary>
    public void ObserveRowsInUse(Func<int> rows)
    {
        _meter.CreateObservableGauge("detailflow.rows.in_use", rows, description: "KV-cache rows held by live generations");
        _meter.CreateObservableGauge("detailflow.process.threads", ProcessThreads, description: "OS threads of this process");
    }

    /// <summary>Threads of this process: /proc/self/status on Linux (cheap), the Process API elsewhere.</summary>
    private static int ProcessThreads()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/self/status"))
                if (line.StartsWith("Threads:", StringComparison.Ordinal)) return int.Parse(line.AsSpan(8).Trim());
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException) { }
        using var self = System.Diagnostics.Process.GetCurrentProcess();
        return self.Threads.Count;
    }

    /// <summary>Jobs training on this instance, and the latest loss of each (tags <c>job_id</c>, <c>kind</c>).</summary>
    public void ObserveJobs(Func<int> running, Func<IEnumerable<Measurement<double>>> losses)
    {
        _meter.CreateObservableGauge("detailflow.jobs.running", running, description: "Fine-tune jobs training on this instance");
        _meter.CreateObservableGauge("detailflow.jobs.loss", losses, description: "Latest training loss of each running fine-tune job");
    }

    public void Dispose() => _meter.Dispose();
}
