using DetailFlow.Api.Hosting;
using DetailFlow.Api.OpenAi;
using Microsoft.AspNetCore.Mvc;

namespace DetailFlow.Api.Endpoints;

/// <summary>Every <c>/v1</c> route, in one group (and the design card's <c>POST /generate</c>); the generation routes share the per-client rate limit and the body-size limit.</summary>
public static class V1Endpoints
{
    public static IEndpointRouteBuilder MapV1Endpoints(this IEndpointRouteBuilder app)
    {
        var v1 = app.MapGroup("v1");
        v1.MapModelEndpoints();
        var generation = Generation(v1);
        generation.MapGenerateEndpoints();
        generation.MapStreamEndpoints();
        generation.MapRefineEndpoints();
        generation.MapOpenAiEndpoints();
        Generation(app.MapGroup("")).MapDesignCardRoute();
        return app;
    }

    /// <summary>The group for routes that generate: tagged, rate-limited per client, bodies capped (other v1 routes can join it).</summary>
    public static RouteGroupBuilder Generation(RouteGroupBuilder parent) => parent.MapGroup("").WithTags("Generation")
        .RequireRateLimiting(RequestLimits.Policy).WithMetadata(new RequestSizeLimitAttribute(RequestLimits.MaxBodyBytes));
}
