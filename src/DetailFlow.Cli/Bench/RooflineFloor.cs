using System.Text.Json.Serialization;
using DetailFlow.Core.Gpt;
using DetailFlow.Core.Runtime;
using DetailFlow.Core.Tokenizer;

namespace DetailFlow.Cli.Bench;

/// <summary>
/// The least time an image can take on this machine (docs/performance.md, "Roofline"), from a
/// <see cref="RooflineMeasurement"/> and a model's shapes. The GPT's share at c concurrent requests is the larger of
/// <list type="bullet">
/// <item>reading its weights once per step (every step of a batch reads all of them once): weight bytes × steps ÷
/// streaming bandwidth ÷ c;</item>
/// <item>its matrix work (KV engine, guidance: <see cref="GenerationFlops"/>) at the GEMM rate measured at one request
/// (c = 1) or at a full batch (c &gt; 1);</item>
/// </list>
/// and the final decode adds its matrix work at the decoder's measured rate (previews not counted). A batch's floor
/// per image is never above one request's.
/// </summary>
public sealed record RooflineFloor
{
    [JsonPropertyName("gpt_dtype")] public required string GptDType { get; init; }
    [JsonPropertyName("decoder_dtype")] public required string DecoderDType { get; init; }
    [JsonPropertyName("steps")] public int Steps { get; init; }
    [JsonPropertyName("gpt_gflop_per_image")] public double GptGflopPerImage { get; init; }
    [JsonPropertyName("gpt_weight_gb")] public double GptWeightGb { get; init; }
    [JsonPropertyName("decode_gflop_per_image")] public double DecodeGflopPerImage { get; init; }
    [JsonPropertyName("single_gflops")] public double SingleGflops { get; init; }
    [JsonPropertyName("saturated_gflops")] public double SaturatedGflops { get; init; }
    [JsonPropertyName("decoder_gflops")] public double DecoderGflops { get; init; }
    [JsonPropertyName("bandwidth_gb_per_s")] public double BandwidthGbPerSecond { get; init; }
    [JsonPropertyName("requests")] public int Requests { get; init; }

    /// <summary>Floor at one request, decode included (s/image).</summary>
    [JsonPropertyName("single_seconds")] public double SingleSeconds => SecondsPerImage(1);

    /// <summary>Floor per image at <see cref="Requests"/> concurrent requests, decode included.</summary>
    [JsonPropertyName("saturated_seconds_per_image")] public double SaturatedSecondsPerImage => SecondsPerImage(Requests);

    /// <summary>Seconds per image of weight streaming for one request (the whole batch shares it).</summary>
    [JsonIgnore] public double StreamSeconds => GptWeightGb * Steps / BandwidthGbPerSecond;

    [JsonIgnore] public double DecodeSeconds => DecodeGflopPerImage / DecoderGflops;

    /// <summary>The GPT's floor per image at <paramref name="concurrent"/> requests; never above the one-request floor (a batch can always run its requests one by one).</summary>
    public double GptSecondsPerImage(int concurrent)
    {
        double single = Math.Max(StreamSeconds, GptGflopPerImage / SingleGflops);
        return concurrent <= 1 ? single : Math.Min(single, Math.Max(StreamSeconds / concurrent, GptGflopPerImage / SaturatedGflops));
    }

    public double SecondsPerImage(int concurrent, bool includeDecode = true) =>
        GptSecondsPerImage(Math.Max(1, concurrent)) + (includeDecode ? DecodeSeconds : 0);

    /// <summary>The floor of <paramref name="gpt"/> + <paramref name="tokenizer"/>'s decoder in the given precisions (null: the measured Auto choice).</summary>
    public static RooflineFloor For(RooflineMeasurement m, GptConfig gpt, TokenizerConfig tokenizer, string? gptDType = null, string? decoderDType = null)
    {
        gptDType ??= m.AutoGpt;
        decoderDType ??= m.AutoDecoder;
        var g = m.Gpt.FirstOrDefault(c => c.DType == gptDType) ?? throw new ArgumentException($"no GPT ceiling measured for {gptDType}", nameof(gptDType));
        var d = m.Decoder.FirstOrDefault(c => c.DType == decoderDType) ?? throw new ArgumentException($"no decoder ceiling measured for {decoderDType}", nameof(decoderDType));
        int bytes = gptDType == "fp32" ? 4 : 2;
        return new RooflineFloor
        {
            GptDType = gptDType, DecoderDType = decoderDType, Steps = StepShapes.GptSteps(gpt),
            GptGflopPerImage = GenerationFlops.PerImage(gpt, BenchEngine.Kv, guidance: true) / 1e9,
            GptWeightGb = StepShapes.WeightElements(StepShapes.Gpt(gpt, 1)) * bytes / 1e9,
            DecodeGflopPerImage = StepShapes.Flops(StepShapes.Decoder(tokenizer, 1)) / 1e9,
            SingleGflops = g.SingleGflops, SaturatedGflops = g.SaturatedGflops, DecoderGflops = d.SingleGflops,
            BandwidthGbPerSecond = m.BandwidthGbPerSecond, Requests = m.Requests,
        };
    }

    /// <summary>Floor ÷ measured: 1 = at the limit.</summary>
    public static double Fraction(double floorSeconds, double measuredSeconds) => measuredSeconds > 0 ? floorSeconds / measuredSeconds : 0;
}
