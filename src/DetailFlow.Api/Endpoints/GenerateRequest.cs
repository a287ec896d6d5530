using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Mvc;

namespace DetailFlow.Api.Endpoints;

/// <summary>
/// The sampling fields every generation request shares (generate, stream, refine). The same type is the JSON body of
/// the POST routes and the query string of the GET routes (bound with <c>[AsParameters]</c>, hence the query names).
/// </summary>
public abstract record SamplingRequest
{
    /// <summary>Class id (number) or label (string, from the model's label list).</summary>
    [JsonPropertyName("class"), FromQuery(Name = "class"), JsonConverter(typeof(FlexibleValueConverter))] public FlexibleValue? Class { get; init; }
    [JsonPropertyName("seed"), FromQuery(Name = "seed")] public long? Seed { get; init; }
    [JsonPropertyName("cfg_scale"), FromQuery(Name = "cfg_scale")] public double? CfgScale { get; init; }
    [JsonPropertyName("temperature"), FromQuery(Name = "temperature")] public double? Temperature { get; init; }
    [JsonPropertyName("top_k"), FromQuery(Name = "top_k")] public int? TopK { get; init; }
    [JsonPropertyName("top_p"), FromQuery(Name = "top_p")] public double? TopP { get; init; }
    [JsonPropertyName("tokens"), FromQuery(Name = "tokens")] public int? Tokens { get; init; }
    [JsonPropertyName("response_format"), FromQuery(Name = "response_format")] public string? ResponseFormat { get; init; }
    /// <summary>Streams only: a count of previews, or "all".</summary>
    [JsonPropertyName("previews"), FromQuery(Name = "previews"), JsonConverter(typeof(FlexibleValueConverter))] public FlexibleValue? Previews { get; init; }
}

/// <summary>Body of <c>POST /v1/generate</c> (and the stream endpoints). Every field but <c>class</c> is optional.</summary>
public sealed record GenerateRequest : SamplingRequest
{
    [JsonPropertyName("n"), FromQuery(Name = "n")] public int? N { get; init; }
}

/// <summary>Body of <c>POST /v1/generate</c> when JSON is asked for (n &gt; 1 or <c>response_format = b64_json</c>).</summary>
public sealed record GenerateResponse(
    [property: JsonPropertyName("model")] string Model,
    [property: JsonPropertyName("tokens")] int Tokens,
    [property: JsonPropertyName("resolution")] int Resolution,
    [property: JsonPropertyName("images")] IReadOnlyList<GeneratedImage> Images);

public sealed record GeneratedImage(
    [property: JsonPropertyName("seed")] long Seed,
    [property: JsonPropertyName("b64_json")] byte[] Png,
    [property: JsonPropertyName("codes_id")] string CodesId,
    [property: JsonPropertyName("cached")] bool Cached);
