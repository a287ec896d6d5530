using System.ComponentModel.DataAnnotations;

namespace DetailFlow.Api.Batching;

/// <summary>Continuous batching limits (section <c>BatcherOptions</c>).</summary>
public sealed class BatcherOptions
{
    /// <summary>Requests that may wait for rows beyond those being generated; more → 429 with Retry-After.</summary>
    [Range(1, 100_000, ErrorMessage = "BatcherOptions:QueueCapacity must be in 1..100000")]
    public int QueueCapacity { get; set; } = 64;

    /// <summary>KV-cache rows per step (a guided request takes 2); 0 = from the machine (<see cref="Hosting.ServingPlan"/>).</summary>
    [Range(2, 4096, ErrorMessage = "BatcherOptions:MaxRows must be 0 (from the machine) or in 2..4096 (a guided request needs 2 rows)")]
    public int MaxRows { get; set; }

    /// <summary>
    /// Whether a stream's steps up to its first preview may run apart from batch mates feeding whole groups, so that the
    /// preview does not wait for their steps (<see cref="Core.Generation.GenerationRequest.EagerCodes"/>).
    /// </summary>
    public bool EagerFirstPreviews { get; set; } = true;

    /// <summary>
    /// How many times the whole step must be measured to cost the stream's step alone before it runs apart
    /// (<see cref="Core.Generation.NextDetailEngine.EagerCostRatio"/>, timed by the engine as it runs; 0 = whenever it shares a step with others).
    /// </summary>
    [Range(0.0, 1000.0, ErrorMessage = "BatcherOptions:EagerCostRatio must be in 0..1000")]
    public double EagerCostRatio { get; set; } = Core.Generation.NextDetailEngine.DefaultEagerCostRatio;

    /// <summary>Per-request deadline in seconds, queueing included.</summary>
    [Range(1, 3600, ErrorMessage = "BatcherOptions:DeadlineSeconds must be in 1..3600")]
    public int DeadlineSeconds { get; set; } = 120;

    /// <summary>Seconds a 429 asks the client to wait.</summary>
    [Range(1, 3600, ErrorMessage = "BatcherOptions:RetryAfterSeconds must be in 1..3600")]
    public int RetryAfterSeconds { get; set; } = 2;

    /// <summary>
    /// On shutdown (SIGTERM), seconds that started generations get to finish; queued ones are refused at once (503).
    /// The host's shutdown timeout is this plus a margin, so keep the orchestrator's grace period above it.
    /// </summary>
    [Range(0, 3600, ErrorMessage = "BatcherOptions:DrainSeconds must be in 0..3600")]
    public int DrainSeconds { get; set; } = 20;
}
