using DetailFlow.Api.Batching;
using DetailFlow.Api.Hosting;
using Microsoft.AspNetCore.Http.HttpResults;

namespace DetailFlow.Api.Endpoints;

public static class GenerateEndpoints
{
    /// <summary>Maps the route in the v1 generation group (<see cref="V1Endpoints"/>).</summary>
    internal static void MapGenerateEndpoints(this RouteGroupBuilder generation) =>
        generation.MapPost("generate", Generate).WithName("Generate")
            .WithSummary("Generate images of a class; one PNG as image/png, otherwise JSON with base64 images");

    /// <summary>The design card's route, <c>POST /generate</c>: the same handler, limits and keys.</summary>
    internal static void MapDesignCardRoute(this RouteGroupBuilder generation) =>
        generation.MapPost("generate", Generate).WithName("GenerateDesignCard").WithSummary("The same as POST /v1/generate");

    public static async Task<Results<FileContentHttpResult, Ok<GenerateResponse>, ValidationProblem, ProblemHttpResult>> Generate(
        GenerateRequest? request, ModelState state, ImageGenerator generator, HttpContext http)
    {
        if (state.Rent(http) is not { } model) return Problems.NotReady();
        var (valid, errors) = RequestValidator.Validate(request, model, stream: false);
        if (valid is null) return TypedResults.ValidationProblem(errors, title: "Invalid generation request");
        try
        {
            var outcomes = await generator.GenerateAsync(model, valid.Images(), new HashSet<int>(), null, http.RequestAborted);
            return Respond(http, model, valid.Image.Tokens, outcomes, valid.Png);
        }
        catch (Exception e) when (Problems.Map(e, http) is { } problem)
        {
            return problem;
        }
    }

    /// <summary>One PNG (with seed/model/tokens/cache headers), or JSON with base64 images.</summary>
    internal static Results<FileContentHttpResult, Ok<GenerateResponse>, ValidationProblem, ProblemHttpResult> Respond(
        HttpContext http, LoadedModel model, int tokens, IReadOnlyList<ImageOutcome> outcomes, bool png)
    {
        var headers = http.Response.Headers;
        headers["X-Model"] = model.Name;
        headers["X-Model-Fingerprint"] = model.Fingerprint;
        headers["X-Tokens"] = tokens.ToString();
        headers["X-Cache"] = string.Join(",", outcomes.Select(o => o.CacheHit ? "hit" : "miss"));
        if (png)
        {
            var one = outcomes[0];
            headers["X-Seed"] = one.Seed.ToString();
            headers["X-Codes-Id"] = one.CodesId;
            headers["X-Resolution"] = one.Result.Image.Resolution.ToString();
            return TypedResults.File(one.Result.Image.Png, "image/png");
        }
        return TypedResults.Ok(new GenerateResponse(model.Name, tokens, model.Schedule.DecoderResolution(tokens),
            outcomes.Select(o => new GeneratedImage(o.Seed, o.Result.Image.Png, o.CodesId, o.CacheHit)).ToArray()));
    }
}
