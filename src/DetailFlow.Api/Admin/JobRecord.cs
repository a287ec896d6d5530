using System.Text.Json;
using System.Text.Json.Serialization;

namespace DetailFlow.Api.Admin;

public enum JobState { Queued, Running, Completed, Failed, Cancelled, Interrupted }

/// <summary>One point of a job's loss curve.</summary>
public sealed record LossPoint([property: JsonPropertyName("step")] long Step, [property: JsonPropertyName("loss")] double Loss);

/// <summary>A training job as stored (JSON file or Redis) and returned by <c>GET /admin/jobs/{id}</c>.</summary>
public sealed record JobRecord
{
    /// <summary>Points kept in <see cref="Losses"/>; beyond it every other point is dropped (the curve keeps its shape).</summary>
    public const int MaxLossPoints = 2000;

    [JsonPropertyName("id")] public required string Id { get; init; }
    [JsonPropertyName("name")] public required string Name { get; init; }
    [JsonPropertyName("kind")] public required string Kind { get; init; }
    [JsonPropertyName("state")] public JobState State { get; init; }
    [JsonPropertyName("step")] public long Step { get; init; }
    [JsonPropertyName("total_steps")] public long TotalSteps { get; init; }
    [JsonPropertyName("loss")] public double? Loss { get; init; }
    [JsonPropertyName("losses")] public IReadOnlyList<LossPoint> Losses { get; init; } = [];
    [JsonPropertyName("steps_per_second")] public double? StepsPerSecond { get; init; }
    [JsonPropertyName("eta_seconds")] public double? EtaSeconds { get; init; }
    [JsonPropertyName("last_checkpoint")] public string? LastCheckpoint { get; init; }
    [JsonPropertyName("error")] public string? Error { get; init; }
    [JsonPropertyName("owner")] public string? Owner { get; init; }
    [JsonPropertyName("runs")] public int Runs { get; init; }
    [JsonPropertyName("phase")] public string? Phase { get; init; }
    [JsonPropertyName("class_names")] public IReadOnlyList<string> ClassNames { get; init; } = [];
    [JsonPropertyName("created")] public DateTimeOffset Created { get; init; }
    [JsonPropertyName("updated")] public DateTimeOffset Updated { get; init; }
    [JsonPropertyName("folder")] public required string Folder { get; init; }
    [JsonPropertyName("spec")] public required JobSpec Spec { get; init; }

    [JsonIgnore] public bool IsTerminal => State is JobState.Completed or JobState.Failed or JobState.Cancelled or JobState.Interrupted;

    /// <summary>The run folder (<c>config.json</c>, <c>checkpoints/</c>).</summary>
    [JsonIgnore] public string RunDir => Path.Combine(Folder, "run");

    public JobRecord WithLoss(long step, double loss)
    {
        var points = new List<LossPoint>(Losses.Where(p => p.Step < step)) { new(step, loss) };
        if (points.Count > MaxLossPoints) points = points.Where((_, i) => i % 2 == 0 || i == points.Count - 1).ToList();
        return this with { Losses = points, Loss = loss, Step = step };
    }
}

/// <summary>The admin API's JSON (snake_case names are on the records; enums as lower-case strings).</summary>
public static class AdminJson
{
    public static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web)
    {
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower) },
    };
}
