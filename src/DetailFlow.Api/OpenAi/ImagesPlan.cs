using System.Globalization;
using System.Text.RegularExpressions;
using DetailFlow.Api.Endpoints;
using DetailFlow.Api.Hosting;
using DetailFlow.Core.Generation;

namespace DetailFlow.Api.OpenAi;

/// <summary>
/// A validated OpenAI image request in the model's terms: class, prefix length (from <c>size</c> and <c>quality</c>),
/// previews (from <c>partial_images</c>), sampling and output format.
/// </summary>
public sealed record ImagesPlan(long ClassId, int Tokens, int N, bool Stream, IReadOnlySet<int> Previews, SamplingOptions Options,
    bool SeedGiven, string Quality, string Format, int Compression)
{
    public const int MaxImages = 10;
    public const int MaxPartialImages = 3;

    /// <summary>The side of the images (square): the decoder resolution of the prefix.</summary>
    public string Size(LoadedModel model) => SizeText(model.Schedule.DecoderResolution(Tokens));

    public static string SizeText(int side) => $"{side}x{side}";

    /// <summary>Validates <paramref name="r"/> against <paramref name="model"/>; throws <see cref="OpenAiException"/> at the first fault.</summary>
    public static ImagesPlan From(ImagesRequest r, LoadedModel model)
    {
        if (r.Model is { } name && !string.Equals(name, model.Name, StringComparison.Ordinal))
            throw new OpenAiException(404, $"The model '{Cut(name)}' does not exist; this service serves '{model.Name}' (see GET /v1/models).", "model", "model_not_found");
        long classId = PromptResolver.Resolve(r.Prompt, model.Labels, model.GptConfig.NumClasses);
        int n = r.N ?? 1;
        if (n is < 1 or > MaxImages) throw Bad("n", $"Invalid 'n': {n}. Expected an integer in 1..{MaxImages}.", n < 1 ? "integer_below_min_value" : "integer_above_max_value");
        string quality = (r.Quality ?? "auto") switch
        {
            "auto" or "high" => "high",
            "medium" => "medium",
            "low" => "low",
            var q => throw Bad("quality", $"Invalid 'quality': '{Cut(q)}'. Expected 'auto', 'high', 'medium' or 'low'."),
        };
        int tokens = Math.Min(SizeTokens(r.Size, model), QualityTokens(quality, model));
        string format = r.OutputFormat ?? "png";
        if (format is not ("png" or "jpeg" or "webp")) throw Bad("output_format", $"Invalid 'output_format': '{Cut(format)}'. Expected 'png', 'jpeg' or 'webp'.");
        int compression = r.OutputCompression ?? 100;
        if (compression is < 0 or > 100) throw Bad("output_compression", $"Invalid 'output_compression': {compression}. Expected an integer in 0..100.");
        if (r.ResponseFormat is { } rf && rf != "b64_json")
            throw Bad("response_format", rf == "url"
                ? "response_format 'url' is not supported: this service keeps no images; use 'b64_json' (the default)."
                : $"Invalid 'response_format': '{Cut(rf)}'. Expected 'b64_json'.");
        if (r.Background is { } bg && bg is not ("auto" or "opaque"))
            throw Bad("background", bg == "transparent"
                ? "background 'transparent' is not supported: the model draws opaque images; use 'auto' or 'opaque'."
                : $"Invalid 'background': '{Cut(bg)}'. Expected 'auto' or 'opaque'.");
        int partials = r.PartialImages ?? 0;
        if (partials is < 0 or > MaxPartialImages)
            throw Bad("partial_images", $"Invalid 'partial_images': {partials}. Expected an integer in 0..{MaxPartialImages}.", partials < 0 ? "integer_below_min_value" : "integer_above_max_value");
        if (r.Seed is { } s && (s < 0 || s > long.MaxValue - MaxImages)) throw Bad("seed", $"Invalid 'seed': {s}. Expected an integer in 0..{long.MaxValue - MaxImages}.");
        var options = model.Defaults with { Seed = r.Seed ?? Random.Shared.NextInt64(0, long.MaxValue / 2) };
        bool stream = r.Stream ?? false;
        var previews = stream ? RequestValidator.Spread(model.Schedule.ValidPrefixes.Where(t => t < tokens).ToArray(), partials) : new HashSet<int>();
        return new ImagesPlan(classId, tokens, n, stream, previews, options, r.Seed is not null, quality, format, compression);
    }

    /// <summary><c>auto</c>: every token; <c>WxH</c> (square, a scheduled resolution): the prefix that decodes best at that size.</summary>
    private static int SizeTokens(string? size, LoadedModel model)
    {
        if (size is null or "auto") return model.MaxTokens;
        var sizes = model.Schedule.Resolutions;
        string valid = "'auto', " + string.Join(", ", sizes.Select(s => $"'{SizeText(s)}'"));
        var m = Regex.Match(size, @"^([0-9]{1,5})x([0-9]{1,5})$");
        if (!m.Success) throw Bad("size", $"Invalid 'size': '{Cut(size)}'. Expected one of {valid}.");
        int w = int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture), h = int.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture);
        if (w != h) throw Bad("size", $"Invalid 'size': '{size}'. The model draws square images; expected one of {valid}.");
        if (w == model.Schedule.DecoderResolution(model.MaxTokens)) return model.MaxTokens;
        return model.Schedule.BestTokenFor(w) is { } t && sizes.Contains(w) ? t
            : throw Bad("size", $"Invalid 'size': '{size}'. Not a resolution of the model's schedule; expected one of {valid}.");
    }

    /// <summary><c>high</c>: every token; <c>medium</c>: the longest prefix of at most half; <c>low</c>: of at most a quarter.</summary>
    public static int QualityTokens(string quality, LoadedModel model)
    {
        int limit = quality switch { "medium" => model.MaxTokens / 2, "low" => model.MaxTokens / 4, _ => model.MaxTokens };
        var prefixes = model.Schedule.ValidPrefixes;
        return prefixes.Where(t => t <= limit).DefaultIfEmpty(prefixes[0]).Max();
    }

    private static OpenAiException Bad(string param, string message, string? code = null) => new(400, message, param, code ?? "invalid_value");

    private static string Cut(string s) => s.Length <= 64 ? s : s[..64] + "…";
}
