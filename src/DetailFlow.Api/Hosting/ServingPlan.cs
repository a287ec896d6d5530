namespace DetailFlow.Api.Hosting;

/// <summary>
/// How the service divides the machine among the engine's steps and the decode thread, and how many rows a step holds,
/// for each of <c>ModelOptions:Threads</c>, <c>ModelOptions:DecodeThreads</c> and <c>BatcherOptions:MaxRows</c> left at 0.
/// Decoding is a large share of an image's work (GPT-L with a DetailFlow-16 decoder: the final decode alone is 65.5
/// GFLOP against the GPT's 163.8, and a stream's previews add to it), so while both threads work the decode thread gets
/// a third of the cores and the engine the rest, each at least one; when both counts come from the plan, whichever thread
/// works alone runs on every core (<see cref="Batching.CoreShare"/>). A step holds 16 rows (8 guided requests) per core
/// its steps may use (16 to 64): on 2 cores 32, so 16 clients are all in flight and a stream's first preview does not
/// wait for a free row (measured against 16 rows: docs/performance.md).
/// </summary>
public sealed record ServingPlan(int Cores, int EngineThreads, int DecodeThreads, int MaxRows, bool CoresShared)
{
    public const int RowsPerCore = 16, FewestRows = 16, MostRows = 64;

    /// <summary>The plan for <paramref name="cores"/>; a positive setting is kept as given.</summary>
    public static ServingPlan For(int cores, int threads = 0, int decodeThreads = 0, int maxRows = 0)
    {
        cores = Math.Max(1, cores);
        bool shared = threads == 0 && decodeThreads == 0 && cores > 1;
        int decode = decodeThreads > 0 ? decodeThreads : Math.Max(1, cores / 3);
        int engine = threads > 0 ? threads : Math.Max(1, cores - decode);
        int rows = maxRows > 0 ? maxRows : Math.Clamp(RowsPerCore * (shared ? cores : engine), FewestRows, MostRows);
        return new ServingPlan(cores, engine, decode, rows, shared);
    }

    /// <summary>The plan for the cores this process may use (affinity and container limits included).</summary>
    public static ServingPlan ForThisMachine(int threads = 0, int decodeThreads = 0, int maxRows = 0) =>
        For(Environment.ProcessorCount, threads, decodeThreads, maxRows);

    /// <summary>Fills <see cref="ModelOptions.Threads"/> and <see cref="ModelOptions.DecodeThreads"/> left at 0 (a
    /// negative value stays for the validator to refuse).</summary>
    public static void Apply(ModelOptions o)
    {
        var plan = ForThisMachine(o.Threads, o.DecodeThreads);
        o.CoresShared = plan.CoresShared;
        if (o.Threads == 0) o.Threads = plan.EngineThreads;
        if (o.DecodeThreads == 0) o.DecodeThreads = plan.DecodeThreads;
    }

    /// <summary>Fills <see cref="Batching.BatcherOptions.MaxRows"/> left at 0 (<paramref name="model"/> already planned).</summary>
    public static void Apply(Batching.BatcherOptions o, ModelOptions model)
    {
        if (o.MaxRows == 0) o.MaxRows = RowsFor(model);
    }

    /// <summary>The planned rows per step for <paramref name="model"/>'s threads (already planned): every core's worth when they are shared.</summary>
    public static int RowsFor(ModelOptions model) =>
        (model.CoresShared ? ForThisMachine() : ForThisMachine(model.Threads, model.DecodeThreads)).MaxRows;
}
