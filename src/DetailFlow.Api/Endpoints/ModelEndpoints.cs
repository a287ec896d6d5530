using System.Text.Json.Serialization;
using DetailFlow.Api.Hosting;
using DetailFlow.Core.Generation;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;

namespace DetailFlow.Api.Endpoints;

public static class ModelEndpoints
{
    /// <summary>Maps the route in the v1 group (<see cref="V1Endpoints"/>).</summary>
    internal static void MapModelEndpoints(this RouteGroupBuilder v1) =>
        v1.MapGet("models", GetModels).WithTags("Models").WithName("GetModels")
            .WithSummary("The served model in the OpenAI list shape, with its schedule (tokens → resolution), labels, request defaults and precision");

    public static Results<Ok<ModelList>, ProblemHttpResult> GetModels(ModelState state)
    {
        if (state.Model is not { } m) return Problems.NotReady();
        var d = m.Defaults;
        var info = new ModelInfo(m.Name, "model", Created(m), "detailflow", m.Fingerprint, m.GptConfig.NumClasses, m.Labels, m.MaxTokens,
            m.Schedule.ValidPrefixes.Select(t => new ScheduleEntry(t, m.Schedule.DecoderResolution(t))).ToArray(),
            new Defaults(d.CfgScale, d.Temperature, d.TopK, d.TopP, m.MaxTokens, 1, "png", RequestValidator.DefaultPreviewCount))
        { DType = m.GptDType, DecoderDType = m.DecoderDType, Weights = m.GptWeights, DecoderWeights = m.DecoderWeights, Attention = m.Attention,
            DecoderAttention = m.DecoderAttention, Products = m.Products };
        return TypedResults.Ok(new ModelList("list", [info]));
    }

    /// <summary>OpenAI's <c>created</c> (Unix seconds): when the GPT weights were written.</summary>
    private static long Created(LoadedModel m)
    {
        string? path = m.Source?.GptPath;
        return path is not null && File.Exists(path) ? new DateTimeOffset(File.GetLastWriteTimeUtc(path)).ToUnixTimeSeconds() : 0;
    }
}

/// <summary>OpenAI's model list: <c>{object: "list", data: [...]}</c>.</summary>
public sealed record ModelList(
    [property: JsonPropertyName("object")] string Object,
    [property: JsonPropertyName("data")] IReadOnlyList<ModelInfo> Data);

/// <summary>An OpenAI model entry (<c>id</c>, <c>object</c>, <c>created</c>, <c>owned_by</c>) carrying the DetailFlow fields.</summary>
public sealed record ModelInfo(
    [property: JsonPropertyName("id")] string Id,
    [property: JsonPropertyName("object")] string Object,
    [property: JsonPropertyName("created")] long Created,
    [property: JsonPropertyName("owned_by")] string OwnedBy,
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

    /// <summary>How the GPT's linear weights are stored: plain or packed (ModelOptions:Weights <c>Auto</c> times both per machine).</summary>
    [JsonPropertyName("weights")] public string? Weights { get; init; }

    /// <summary>How the decoder's linear weights are stored.</summary>
    [JsonPropertyName("decoder_weights")] public string? DecoderWeights { get; init; }

    /// <summary>How the GPT's cached steps attend: sdpa, or one-pass up to R rows (ModelOptions:Attention <c>Auto</c> times both per machine).</summary>
    [JsonPropertyName("attention")] public string? Attention { get; init; }

    /// <summary>Where the GPT's packed products run: onednn, or C# up to R rows (ModelOptions:HostProductRows unset times both per machine).</summary>
    [JsonPropertyName("products")] public string? Products { get; init; }

    /// <summary>How the decoder attends: sdpa, headwise, or headwise from L tokens (ModelOptions:DecoderAttention <c>Auto</c> times both per machine).</summary>
    [JsonPropertyName("decoder_attention")] public string? DecoderAttention { get; init; }
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
