using System.Text.Json;
using DetailFlow.Api.Batching;
using DetailFlow.Api.Hosting;
using DetailFlow.Core.Generation;

namespace DetailFlow.Api.Endpoints;

/// <summary>
/// A validated generation request: <see cref="Image"/> is the first image's spec (the record that goes on to the
/// generator and the engine), cacheable when the client chose the seed.
/// </summary>
public sealed record ValidatedRequest(ImageSpec Image, int N, bool Png, IReadOnlySet<int> Previews)
{
    /// <summary>The request's <see cref="N"/> images: seeds <c>seed</c>, <c>seed + 1</c>, …</summary>
    public IReadOnlyList<ImageSpec> Images() =>
        Enumerable.Range(0, N).Select(i => Image with { Options = Image.Options with { Seed = Image.Options.Seed + i } }).ToList();
}

public static class RequestValidator
{
    public const int MaxImages = 8;
    public const int DefaultPreviewCount = 4;

    private static readonly Dictionary<string, string> FieldNames = new()
    {
        ["CfgScale"] = "cfg_scale", ["Temperature"] = "temperature", ["TopK"] = "top_k", ["TopP"] = "top_p", ["ClassLabel"] = "class",
    };

    public static (ValidatedRequest? Request, Dictionary<string, string[]> Errors) Validate(GenerateRequest? r, LoadedModel model, bool stream)
    {
        var errors = new Dictionary<string, string[]>();
        void Error(string field, string message) => errors[field] = [message];
        if (r is null) { Error("body", "a JSON object is required"); return (null, errors); }

        long classId = ClassId(r.Class, model, Error);
        var defaults = model.Defaults;
        long seed = r.Seed ?? Random.Shared.NextInt64(0, long.MaxValue / 2);
        var options = defaults with
        {
            CfgScale = r.CfgScale ?? defaults.CfgScale, Temperature = r.Temperature ?? defaults.Temperature,
            TopK = r.TopK, TopP = r.TopP ?? defaults.TopP, Seed = seed,
        };
        try { options.Validate(model.GptConfig); }
        catch (ArgumentOutOfRangeException e) { Error(FieldNames.GetValueOrDefault(e.ParamName ?? "", e.ParamName ?? "body"), e.Message.Split(" (Parameter")[0]); }

        int tokens = r.Tokens ?? model.MaxTokens;
        if (!model.Schedule.IsValidPrefix(tokens))
            Error("tokens", OffSchedule(model, tokens));
        int n = r.N ?? 1;
        if (n is < 1 or > MaxImages) Error("n", $"n = {n}: must be in 1..{MaxImages}");
        if (r.Seed is { } s && (s < 0 || s > long.MaxValue - MaxImages)) Error("seed", $"seed = {s}: must be in 0..{long.MaxValue - MaxImages}");
        string format = r.ResponseFormat ?? "png";
        if (format is not ("png" or "b64_json")) Error("response_format", $"response_format = '{format}': expected 'png' or 'b64_json'");
        var previews = stream ? PreviewTokens(r.Previews, model, tokens, Error) : new HashSet<int>();
        if (errors.Count > 0) return (null, errors);
        return (new ValidatedRequest(new ImageSpec(classId, options, tokens, Cacheable: r.Seed is not null), n, format == "png" && n == 1, previews), errors);
    }

    private static long ClassId(FlexibleValue? value, LoadedModel model, Action<string, string> error)
    {
        int classes = model.GptConfig.NumClasses;
        switch (value)
        {
            case null:
                error("class", "class is required: a class id or a label");
                return 0;
            case { Number: { } id }:
                if (id < 0 || id >= classes) error("class", $"class = {id}: unknown class id; the model has classes 0..{classes - 1}");
                return id;
            case { Text: { } label }:
                if (long.TryParse(label, out long parsed) && parsed >= 0 && parsed < classes) return parsed;
                int index = model.Labels.ToList().FindIndex(l => string.Equals(l, label, StringComparison.OrdinalIgnoreCase));
                if (index < 0) error("class", $"class = '{Truncate(label)}': unknown label (see GET /v1/models)");
                return Math.Max(index, 0);
            default:
                error("class", "class must be a class id (integer) or a label (string)");
                return 0;
        }
    }

    /// <summary>
    /// Prefix lengths to preview: "all", a count spread over the schedule (default 4), or none (0) — of those longer than
    /// <paramref name="after"/> (the codes already known, when refining) and shorter than <paramref name="tokens"/>.
    /// </summary>
    public static IReadOnlySet<int> PreviewTokens(FlexibleValue? value, LoadedModel model, int tokens, Action<string, string> error, int after = 0)
    {
        var schedule = model.Schedule.ValidPrefixes.Where(t => t > after && t < tokens).ToArray();
        int count = DefaultPreviewCount;
        switch (value)
        {
            case null: break;
            case { Text: "all" }: return schedule.ToHashSet();
            case { Text: { } text } when int.TryParse(text, out int c) && c >= 0: count = c; break;
            case { Number: { } n } when n is >= 0 and <= int.MaxValue: count = (int)n; break;
            default: error("previews", "previews must be a non-negative count or \"all\""); return new HashSet<int>();
        }
        return Spread(schedule, count);
    }

    /// <summary><paramref name="count"/> prefixes spread evenly over the schedule, the finest kept.</summary>
    public static IReadOnlySet<int> Spread(int[] schedule, int count)
    {
        if (count >= schedule.Length) return schedule.ToHashSet();
        if (count == 0) return new HashSet<int>();
        return Enumerable.Range(1, count).Select(i => schedule[(int)Math.Round((double)i * schedule.Length / count) - 1]).ToHashSet();
    }

    public static string OffSchedule(LoadedModel model, int tokens) =>
        $"tokens = {tokens}: not on the schedule; valid: {string.Join(", ", model.Schedule.ValidPrefixes)}";

    private static string Truncate(string s) => s.Length <= 64 ? s : s[..64] + "…";
}
