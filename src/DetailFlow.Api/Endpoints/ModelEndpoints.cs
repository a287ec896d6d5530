using System.Text.Json.Serialization;
using DetailFlow.Api.Hosting;
using DetailFlow.Core.Generation;
using Microsoft.AspNetCore.Http.HttpResults;

namespace DetailFlow.Api.Endpoints;

public static class ModelEndpoints
{
    public static IEndpointRouteBuilder MapModelEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapGroup("v1").WithTags("Models").MapGet("models", GetModels).WithName("GetModels")
            .WithSummary("The served model: schedule (tokens → resolution), labels and request defaults");
        return app;
    }

    public static Results<Ok<ModelList>, ProblemHttpResult> GetModels(ModelState state)
    {
        if (state.Model is not { } m) return Problems.NotReady();
        var d = m.Defaults;
        var info = new ModelInfo(m.Name, m.Fingerprint, m.GptConfig.NumClasses, m.Labels, m.MaxTokens,
            m.Schedule.ValidPrefixes.Select(t => new ScheduleEntry(t, m.Schedule.DecoderResolution(t))).ToArray(),
            new Defaults(d.CfgScale, d.Temperature, d.TopK, d.TopP, m.MaxTokens, 1, "png", RequestValidator.DefaultPreviewCount))
        { DType = m.GptDType, DecoderDType = m.DecoderDType };
        return TypedResults.Ok(new ModelList([info]));
    }
}

public sealed record ModelList([property: JsonPropertyName("models")] IReadOnlyList<ModelInfo> Models);

public sealed record ModelInfo(
    [property: JsonPropertyName("id")] string Id,
    [property: JsonPropertyName("fingerprint")] string Fingerprint,
    [property: JsonPropertyName("num_classes")] int NumClasses,
    [property: JsonPropertyName("labels")] IReadOnlyList<string> Labels,
    [property: JsonPropertyName("max_tokens")] int MaxTokens,
    [property: JsonPropertyName("schedule")] IReadOnlyList<ScheduleEntry> Schedule,
    [property: JsonPropertyName("defaults")] Defaults Defaults)
{
    /// <summary>The GPT's precision in force (fp32, bf16, fp16; ModelOptions:DType <c>Auto</c> chooses it per machine).</summary>
    [JsonPropertyName("dtype")] public string? DType { get; init; }

    /// <summary>The decoder's precision in force.</summary>
    [JsonPropertyName("decoder_dtype")] public string? DecoderDType { get; init; }
}

public sealed record ScheduleEntry([property: JsonPropertyName("tokens")] int Tokens, [property: JsonPropertyName("resolution")] int Resolution);

public sealed record Defaults(
    [property: JsonPropertyName("cfg_scale")] double CfgScale,
    [property: JsonPropertyName("temperature")] double Temperature,
    [property: JsonPropertyName("top_k")] int? TopK,
    [property: JsonPropertyName("top_p")] double TopP,
    [property: JsonPropertyName("tokens")] int Tokens,
    [property: JsonPropertyName("n")] int N,
    [property: JsonPropertyName("response_format")] string ResponseFormat,
    [property: JsonPropertyName("previews")] int Previews);
