using System.Text.Json;
using System.Text.Json.Serialization;
using DetailFlow.Api.Batching;
using DetailFlow.Api.Caching;
using DetailFlow.Api.Hosting;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;

namespace DetailFlow.Api.Endpoints;

/// <summary>Body of <c>POST /v1/refine</c>: an earlier result (<c>codes_id</c>, or <c>codes</c> with the sampling fields) and a larger <c>tokens</c>.</summary>
public sealed record RefineRequest : SamplingRequest
{
    [JsonPropertyName("codes_id"), FromQuery(Name = "codes_id")] public string? CodesId { get; init; }
    [JsonPropertyName("codes"), FromQuery(Name = "codes")] public long[]? Codes { get; init; }
}

public static class RefineEndpoints
{
    /// <summary>Maps the routes in the v1 generation group (<see cref="V1Endpoints"/>).</summary>
    internal static void MapRefineEndpoints(this RouteGroupBuilder generation)
    {
        generation.MapPost("refine", Refine).WithName("Refine")
            .WithSummary("Continue an earlier result (by codes_id or codes) to a larger tokens, without starting over");
        generation.MapGet("refine/stream", RefineStream).WithName("RefineStream")
            .WithSummary("Continue an earlier result (by codes_id) to a larger tokens, streaming previews of the added detail (SSE)");
    }

    public static async Task<Results<FileContentHttpResult, Ok<GenerateResponse>, ValidationProblem, ProblemHttpResult>> Refine(
        RefineRequest? r, ModelState state, ImageGenerator generator, CodeCache cache, HttpContext http)
    {
        if (state.Rent(http) is not { } model) return Problems.NotReady();
        var errors = new Dictionary<string, string[]>();
        ImageSpec? spec = null;
        int tokens = r?.Tokens ?? model.MaxTokens;
        if (!model.Schedule.IsValidPrefix(tokens))
            errors["tokens"] = [RequestValidator.OffSchedule(model, tokens)];
        string format = r?.ResponseFormat ?? "png";
        if (format is not ("png" or "b64_json")) errors["response_format"] = [$"response_format = '{format}': expected 'png' or 'b64_json'"];
        if (r is null) errors["body"] = ["a JSON object is required"];
        else if (r.CodesId is { } id)
        {
            spec = (await ContinueAsync(id, tokens, model, cache, http.RequestAborted))?.Spec;
            if (spec is null) errors["codes_id"] = ["unknown or expired codes_id"];
        }
        else if (r.Codes is { } codes)
        {
            var (valid, more) = RequestValidator.Validate(new GenerateRequest
            {
                Class = r.Class, Seed = r.Seed, CfgScale = r.CfgScale, Temperature = r.Temperature, TopK = r.TopK, TopP = r.TopP, Tokens = tokens,
            }, model, stream: false);
            foreach (var (k, v) in more) errors[k] = v;
            if (codes.Length == 0 || !model.Schedule.IsValidPrefix(codes.Length))
                errors["codes"] = [$"{codes.Length} codes: the length must be on the schedule ({string.Join(", ", model.Schedule.ValidPrefixes)})"];
            else if (codes.Any(c => c < 0 || c >= model.GptConfig.VocabSize))
                errors["codes"] = [$"codes must lie in 0..{model.GptConfig.VocabSize - 1}"];
            if (valid is not null)
                spec = valid.Image with { Cacheable = false, Known = codes, CacheId = CodeCache.Id(model, valid.Image.ClassId, valid.Image.Options, codes) };
        }
        else errors["codes_id"] = ["codes_id or codes is required"];
        if (errors.Count > 0 || spec is null) return TypedResults.ValidationProblem(errors, title: "Invalid refine request");
        try
        {
            var outcome = await generator.GenerateAsync(model, spec, new HashSet<int>(), null, http.RequestAborted);
            return GenerateEndpoints.Respond(http, model, tokens, [outcome], format == "png");
        }
        catch (Exception e) when (Problems.Map(e, http) is { } problem)
        {
            return problem;
        }
    }

    /// <summary>
    /// <c>GET /v1/refine/stream?codes_id=…&amp;tokens=…&amp;previews=…</c> (EventSource): the events of
    /// <c>/v1/generate/stream</c>, previews only of prefixes beyond the result's codes.
    /// </summary>
    public static async Task<Results<EventStreamResult, ValidationProblem, ProblemHttpResult>> RefineStream(
        [AsParameters] RefineRequest r, ModelState state, ImageGenerator generator, CodeCache cache, HttpContext http)
    {
        if (state.Rent(http) is not { } model) return Problems.NotReady();
        var errors = new Dictionary<string, string[]>();
        int t = r.Tokens ?? model.MaxTokens;
        if (!model.Schedule.IsValidPrefix(t))
            errors["tokens"] = [RequestValidator.OffSchedule(model, t)];
        var stored = await ContinueAsync(r.CodesId, t, model, cache, http.RequestAborted);
        if (stored is null) errors["codes_id"] = ["unknown or expired codes_id"];
        var shown = RequestValidator.PreviewTokens(r.Previews, model, t,
            (field, message) => errors[field] = [message], after: stored?.From ?? 0);
        if (errors.Count > 0 || stored is not { } found) return TypedResults.ValidationProblem(errors, title: "Invalid refine request");
        return new EventStreamResult(StreamEndpoints.Events(model, found.Spec, shown, generator, http, http.RequestAborted));
    }

    /// <summary>
    /// The spec that continues the result <paramref name="codesId"/> names to <paramref name="tokens"/>, with the cache
    /// entry read here (the request's one read), and the result's own detail; null when it is unknown or expired.
    /// </summary>
    private static async Task<(ImageSpec Spec, int From)?> ContinueAsync(string? codesId, int tokens, LoadedModel model, CodeCache cache,
        CancellationToken ct)
    {
        if (!CodeCache.TryParseCodesId(codesId, out string id, out int from)) return null;
        var entry = await cache.FindAsync(id, ct);
        if (entry is null || entry.Fingerprint != model.Fingerprint || entry.Codes.Length < from) return null;
        return (new ImageSpec(entry.ClassId, entry.Options, tokens, Cacheable: true, Known: entry.Codes[..from]) { CacheId = id, Cached = entry }, from);
    }
}
