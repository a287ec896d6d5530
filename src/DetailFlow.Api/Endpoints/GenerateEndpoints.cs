using DetailFlow.Api.Batching;
using DetailFlow.Api.Hosting;
using Microsoft.AspNetCore.Http.HttpResults;

namespace DetailFlow.Api.Endpoints;

public static class GenerateEndpoints
{
    public static IEndpointRouteBuilder MapGenerateEndpoints(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("v1").WithTags("Generation");
        api.MapPost("generate", Generate).WithName("Generate")
            .WithSummary("Generate images of a class; one PNG as image/png, otherwise JSON with base64 images");
        return app;
    }

    public static async Task<Results<FileContentHttpResult, Ok<GenerateResponse>, ValidationProblem, ProblemHttpResult>> Generate(
        GenerateRequest? request, ModelState state, ImageGenerator generator, HttpContext http)
    {
        if (state.Model is not { } model) return Problems.NotReady();
        var (valid, errors) = RequestValidator.Validate(request, model, stream: false);
        if (valid is null) return TypedResults.ValidationProblem(errors, title: "Invalid generation request");
        try
        {
            var outcomes = await Task.WhenAll(Enumerable.Range(0, valid.N).Select(i => generator.GenerateAsync(model,
                new ImageSpec(valid.ClassId, valid.Options with { Seed = valid.Options.Seed + i }, valid.Tokens, valid.SeedGiven),
                new HashSet<int>(), null, http.RequestAborted)));
            var headers = http.Response.Headers;
            headers["X-Model"] = model.Name;
            headers["X-Tokens"] = valid.Tokens.ToString();
            headers["X-Cache"] = string.Join(",", outcomes.Select(o => o.CacheHit ? "hit" : "miss"));
            if (valid.Png)
            {
                var one = outcomes[0];
                headers["X-Seed"] = one.Seed.ToString();
                headers["X-Codes-Id"] = one.CodesId;
                headers["X-Resolution"] = one.Result.Image.Resolution.ToString();
                return TypedResults.File(one.Result.Image.Png, "image/png");
            }
            return TypedResults.Ok(new GenerateResponse(model.Name, valid.Tokens, model.Schedule.DecoderResolution(valid.Tokens),
                outcomes.Select(o => new GeneratedImage(o.Seed, Convert.ToBase64String(o.Result.Image.Png), o.CodesId, o.CacheHit)).ToArray()));
        }
        catch (Exception e) when (Problems.Map(e, http) is { } problem)
        {
            return problem;
        }
    }
}
