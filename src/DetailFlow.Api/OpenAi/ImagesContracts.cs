using System.Text.Json.Serialization;
using DetailFlow.Api.Endpoints;

namespace DetailFlow.Api.OpenAi;

/// <summary>Body of <c>POST /v1/images/generations</c>: the OpenAI request, plus the extension field <c>seed</c>.</summary>
public sealed record ImagesRequest
{
    [JsonPropertyName("prompt")] public string? Prompt { get; init; }
    [JsonPropertyName("model")] public string? Model { get; init; }
    [JsonPropertyName("n")] public int? N { get; init; }
    [JsonPropertyName("size")] public string? Size { get; init; }
    [JsonPropertyName("quality")] public string? Quality { get; init; }
    [JsonPropertyName("output_format")] public string? OutputFormat { get; init; }
    [JsonPropertyName("output_compression")] public int? OutputCompression { get; init; }
    [JsonPropertyName("response_format")] public string? ResponseFormat { get; init; }
    [JsonPropertyName("background")] public string? Background { get; init; }
    [JsonPropertyName("stream")] public bool? Stream { get; init; }
    [JsonPropertyName("partial_images")] public int? PartialImages { get; init; }
    /// <summary>Accepted and ignored (no per-user state).</summary>
    [JsonPropertyName("user")] public string? User { get; init; }
    /// <summary>Accepted and ignored (class-conditional images of the model's own classes: nothing to moderate).</summary>
    [JsonPropertyName("moderation")] public string? Moderation { get; init; }
    /// <summary>Accepted and ignored (DALL·E 3's vivid/natural has no counterpart).</summary>
    [JsonPropertyName("style")] public string? Style { get; init; }
    /// <summary>Extension: the sampling seed of the first image (image i uses seed + i); fresh randomness without it.</summary>
    [JsonPropertyName("seed")] public long? Seed { get; init; }

    /// <summary>The JSON names above: anything else in a body is refused, as the OpenAI API does.</summary>
    public static readonly IReadOnlySet<string> Fields = typeof(ImagesRequest).GetProperties()
        .Select(p => p.GetCustomAttributes(typeof(JsonPropertyNameAttribute), false).OfType<JsonPropertyNameAttribute>().FirstOrDefault()?.Name)
        .OfType<string>().ToHashSet();
}

public sealed record ImagesResponse(
    [property: JsonPropertyName("created")] long Created,
    [property: JsonPropertyName("data")] IReadOnlyList<ImageData> Data,
    [property: JsonPropertyName("background")] string Background,
    [property: JsonPropertyName("size")] string Size,
    [property: JsonPropertyName("quality")] string Quality,
    [property: JsonPropertyName("output_format")] string OutputFormat,
    [property: JsonPropertyName("usage")] ImageUsage Usage);

/// <summary>One image; <c>seed</c> is an extension (the seed that reproduces it).</summary>
public sealed record ImageData(
    [property: JsonPropertyName("b64_json")] byte[] Image,
    [property: JsonPropertyName("seed")] long Seed);

/// <summary>
/// Token usage. <c>output_tokens</c>: the codes the images consist of (n × the prefix length); <c>input_tokens</c>: the
/// class condition, one token per image (the prompt is resolved to a class, never tokenized as text).
/// </summary>
public sealed record ImageUsage(
    [property: JsonPropertyName("input_tokens")] int InputTokens,
    [property: JsonPropertyName("output_tokens")] int OutputTokens,
    [property: JsonPropertyName("total_tokens")] int TotalTokens,
    [property: JsonPropertyName("input_tokens_details")] InputTokensDetails InputTokensDetails)
{
    public static ImageUsage For(int images, int tokensPerImage) =>
        new(images, images * tokensPerImage, images + images * tokensPerImage, new InputTokensDetails(images, 0));
}

public sealed record InputTokensDetails(
    [property: JsonPropertyName("text_tokens")] int TextTokens,
    [property: JsonPropertyName("image_tokens")] int ImageTokens);

/// <summary>
/// A streamed event: <c>image_generation.partial_image</c> (with <c>partial_image_index</c>) or
/// <c>image_generation.completed</c> (with <c>usage</c>). <c>image_index</c> is an extension telling the images of one
/// request apart when n &gt; 1 (their events also arrive grouped: all of image 0's, then image 1's, …). The image goes out
/// last, as <c>b64_json</c> (<see cref="EventWriter"/>).
/// </summary>
public sealed record ImageStreamEvent(
    [property: JsonPropertyName("type")] string Type,
    [property: JsonIgnore] byte[] Image,
    [property: JsonPropertyName("created_at")] long CreatedAt,
    [property: JsonPropertyName("size")] string Size,
    [property: JsonPropertyName("quality")] string Quality,
    [property: JsonPropertyName("background")] string Background,
    [property: JsonPropertyName("output_format")] string OutputFormat,
    [property: JsonPropertyName("image_index")] int ImageIndex,
    [property: JsonPropertyName("partial_image_index"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] int? PartialImageIndex = null,
    [property: JsonPropertyName("usage"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] ImageUsage? Usage = null,
    [property: JsonPropertyName("seed"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] long? Seed = null) : IImageEvent
{
    string IImageEvent.ImageProperty => "b64_json";

    public const string Partial = "image_generation.partial_image";
    public const string Completed = "image_generation.completed";
}
