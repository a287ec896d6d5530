using System.Diagnostics.Metrics;

namespace DetailFlow.Api.Hosting;

/// <summary>The service's one <see cref="Meter"/> (exported at <c>/metrics</c>).</summary>
public sealed class DetailFlowTelemetry : IDisposable
{
    public const string MeterName = "DetailFlow.Api";
    private readonly Meter _meter = new(MeterName, "1.0");

    public DetailFlowTelemetry()
    {
        Requests = _meter.CreateCounter<long>("detailflow.requests", description: "Generation requests by outcome");
        CacheHits = _meter.CreateCounter<long>("detailflow.cache.hits", description: "Images served from cached codes");
        CacheMisses = _meter.CreateCounter<long>("detailflow.cache.misses", description: "Seeded images that had to be generated");
        RowsPerStep = _meter.CreateHistogram<int>("detailflow.step.rows", description: "KV-cache rows per engine step");
        StepTime = _meter.CreateHistogram<double>("detailflow.step.duration", "s", "Engine step time");
        TimeToFirstPreview = _meter.CreateHistogram<double>("detailflow.preview.first", "s", "Time from submission to the first preview");
        JobSteps = _meter.CreateCounter<long>("detailflow.jobs.steps", description: "Training steps run by fine-tune jobs, by kind");
        JobsFinished = _meter.CreateCounter<long>("detailflow.jobs.finished", description: "Fine-tune jobs that stopped on this instance, by kind and state");
        DecodeTime = _meter.CreateHistogram<double>("detailflow.decode.duration", "s", "Decoder call time (one model's waiting previews and final images)");
    }

    public Counter<long> Requests { get; }
    public Counter<long> CacheHits { get; }
    public Counter<long> CacheMisses { get; }
    public Histogram<int> RowsPerStep { get; }
    public Histogram<double> StepTime { get; }
    public Histogram<double> TimeToFirstPreview { get; }
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

    public void ObserveQueueDepth(Func<int> depth) => _meter.CreateObservableGauge("detailflow.queue.depth", depth, description: "Requests submitted and not yet finished");

    /// <summary>Jobs training on this instance, and the latest loss of each (tags <c>job_id</c>, <c>kind</c>).</summary>
    public void ObserveJobs(Func<int> running, Func<IEnumerable<Measurement<double>>> losses)
    {
        _meter.CreateObservableGauge("detailflow.jobs.running", running, description: "Fine-tune jobs training on this instance");
        _meter.CreateObservableGauge("detailflow.jobs.loss", losses, description: "Latest training loss of each running fine-tune job");
    }

    public void Dispose() => _meter.Dispose();
}
