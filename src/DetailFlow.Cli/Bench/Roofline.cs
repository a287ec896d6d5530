using System.Diagnostics;
using System.Text.Json.Serialization;
using DetailFlow.Core.Gpt;
using DetailFlow.Core.Runtime;
using DetailFlow.Core.Tokenizer;
using static TorchSharp.torch;

namespace DetailFlow.Cli.Bench;

/// <summary>A precision's measured GEMM rate at a model's shapes: one request and a full batch (GFLOP/s).</summary>
public sealed record GemmCeiling(
    [property: JsonPropertyName("dtype")] string DType,
    [property: JsonPropertyName("single_gflops")] double SingleGflops,
    [property: JsonPropertyName("saturated_gflops")] double SaturatedGflops);

/// <summary>
/// This machine's limits at a model's shapes (<c>detailflow bench roofline</c>): the GEMM rate of every precision at
/// the GPT's step shapes (a guided request: 2 rows × G codes; <see cref="Requests"/> requests: 2·requests × G) and at
/// the decoder's (one and four full-resolution images), and the memory bandwidth (a float32 copy, and weights streamed
/// by <c>linear</c> at M = 2, per precision).
/// </summary>
public sealed record RooflineMeasurement
{
    [JsonPropertyName("requests")] public int Requests { get; init; }
    [JsonPropertyName("gpt")] public IReadOnlyList<GemmCeiling> Gpt { get; init; } = [];
    [JsonPropertyName("decoder")] public IReadOnlyList<GemmCeiling> Decoder { get; init; } = [];

    /// <summary>Weight bytes per second that <c>linear</c> at M = 2 streams through, per precision (256 MB weight).</summary>
    [JsonPropertyName("streaming_gb_per_s")] public IReadOnlyDictionary<string, double> StreamingGbPerSecond { get; init; } = new Dictionary<string, double>();

    /// <summary>Bytes read + written per second by a 256 MB float32 tensor copy.</summary>
    [JsonPropertyName("copy_gb_per_s")] public double CopyGbPerSecond { get; init; }

    [JsonPropertyName("seconds")] public double Seconds { get; init; }

    /// <summary>The precision <c>Auto</c> would pick for the GPT from these figures (<see cref="PrecisionProbe.Pick"/>).</summary>
    [JsonPropertyName("auto_gpt")] public string AutoGpt { get; init; } = "fp32";

    [JsonPropertyName("auto_decoder")] public string AutoDecoder { get; init; } = "fp32";

    /// <summary>The best weight-streaming rate over the precisions (the single-request floor reads weights at it).</summary>
    [JsonIgnore] public double BandwidthGbPerSecond => StreamingGbPerSecond.Count == 0 ? CopyGbPerSecond / 2 : StreamingGbPerSecond.Values.Max();

    /// <summary>
    /// Measures on the calling thread with its torch thread count; <paramref name="budget"/> bounds each of the GPT and
    /// decoder timings (the bandwidth adds about a second).
    /// </summary>
    public static RooflineMeasurement Measure(GptConfig gpt, TokenizerConfig tokenizer, int requests, TimeSpan budget)
    {
        var clock = Stopwatch.StartNew();
        var gptWork = ProbeWorkload.Gpt(gpt, 2L * requests);
        var decoderWork = ProbeWorkload.Decoder(tokenizer);
        var gptTimings = PrecisionProbe.Measure(gptWork, CPU, budget, ModelPrecisions.Candidates, bothLayouts: true);
        var decoderTimings = PrecisionProbe.Measure(decoderWork, CPU, budget, ModelPrecisions.Candidates, bothLayouts: true);
        const long weightBytes = 256L << 20;
        var streaming = new Dictionary<string, double>();
        foreach (var dtype in ModelPrecisions.Candidates)
            if (GemmTimer.StreamingBandwidth(dtype, CPU, weightBytes, TimeSpan.FromMilliseconds(250)) is { } bytesPerSecond)
                streaming[ModelPrecisions.ShortName(dtype)] = bytesPerSecond / 1e9;
        return new RooflineMeasurement
        {
            Requests = requests,
            Gpt = gptTimings.Select(t => new GemmCeiling(t.Name, t.SingleGflops, t.SaturatedGflops)).ToList(),
            Decoder = decoderTimings.Select(t => new GemmCeiling(t.Name, t.SingleGflops, t.SaturatedGflops)).ToList(),
            StreamingGbPerSecond = streaming,
            CopyGbPerSecond = GemmTimer.CopyBandwidth(CPU, weightBytes, TimeSpan.FromMilliseconds(250)) / 1e9,
            AutoGpt = PrecisionProbe.Pick("the GPT", gptTimings, 0).Name,
            AutoDecoder = PrecisionProbe.Pick("the decoder", decoderTimings, 0).Name,
            Seconds = clock.Elapsed.TotalSeconds,
        };
    }
}
