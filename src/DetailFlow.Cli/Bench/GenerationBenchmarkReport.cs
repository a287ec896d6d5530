using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace DetailFlow.Cli.Bench;

/// <summary>One timed configuration: median seconds per image over the runs, and the achieved GFLOP/s.</summary>
public sealed record GenerationBenchmarkRow(
    [property: JsonPropertyName("engine")] string Engine,
    [property: JsonPropertyName("concurrent")] int Concurrent,
    [property: JsonPropertyName("dtype")] string DType,
    [property: JsonPropertyName("seconds_per_image")] double SecondsPerImage,
    [property: JsonPropertyName("gflops")] double Gflops)
{
    /// <summary>Wall seconds of each timed run (all images of the run).</summary>
    [JsonIgnore] public IReadOnlyList<double> RunSeconds { get; init; } = [];

    /// <summary>The --dtype entry that gave this row (auto, fp32, bf16, fp16); <see cref="DType"/> is what ran.</summary>
    [JsonPropertyName("requested_dtype")] public string RequestedDType { get; init; } = "";

    /// <summary>The weight layout that ran: plain or packed (<see cref="DetailFlow.Core.Runtime.PackedLinear"/>).</summary>
    [JsonPropertyName("weights")] public string Weights { get; init; } = "plain";

    /// <summary>How cached forwards attended: <c>sdpa</c> or <c>one-pass up to R rows</c> (<see cref="DetailFlow.Core.Gpt.AttentionChoice.Summary"/>).</summary>
    [JsonPropertyName("attention")] public string Attention { get; init; } = "sdpa";

    /// <summary>Where packed products ran: <c>onednn</c> or <c>C# up to R rows</c> (<see cref="DetailFlow.Core.Runtime.HostRowsChoice.Summary"/>).</summary>
    [JsonPropertyName("products")] public string Products { get; init; } = "onednn";

    /// <summary>The roofline's GPT floor (decode excluded: this bench does not decode) ÷ the measured s/image (kv rows; 0 otherwise).</summary>
    [JsonPropertyName("floor_fraction")] public double FloorFraction { get; init; }
}

/// <summary>The <c>--json</c> document: <c>{"rows": [...], "previews": [...], "peak_rss_mb": m}</c>.</summary>
public sealed class GenerationBenchmarkReport
{
    [JsonPropertyName("rows")] public List<GenerationBenchmarkRow> Rows { get; } = [];

    /// <summary>Decoder preview timings, filled by <see cref="GenerationBenchmarkOptions.AddPreviews"/> (empty otherwise).</summary>
    [JsonPropertyName("previews")] public List<JsonNode> Previews { get; } = [];

    [JsonPropertyName("peak_rss_mb")] public double PeakRssMb { get; set; }

    /// <summary>The precision <c>Auto</c> picked for the GPT on this machine (from <see cref="Roofline"/>'s timings).</summary>
    [JsonPropertyName("auto_dtype")] public string AutoDType { get; set; } = "";

    [JsonPropertyName("roofline")] public RooflineMeasurement? Roofline { get; set; }
}
