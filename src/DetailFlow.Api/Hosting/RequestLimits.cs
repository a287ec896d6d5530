using System.Threading.RateLimiting;
using Microsoft.AspNetCore.RateLimiting;

namespace DetailFlow.Api.Hosting;

/// <summary>Per-client rate limit (section <c>RateLimitOptions</c>) and the request body limit of the v1 endpoints.</summary>
public sealed class RateLimitOptions
{
    [System.ComponentModel.DataAnnotations.Range(1, 1_000_000, ErrorMessage = "RateLimitOptions:PermitsPerMinute must be in 1..1000000")]
    public int PermitsPerMinute { get; set; } = 1200;
}

public static class RequestLimits
{
    public const string Policy = "per-client";

    /// <summary>Largest accepted request body (a refine with all codes of a large model is a few KiB).</summary>
    public const long MaxBodyBytes = 64 * 1024;

    public static IServiceCollection AddRequestLimits(this IServiceCollection services)
    {
        services.AddOptions<RateLimitOptions>().BindConfiguration(nameof(RateLimitOptions)).ValidateDataAnnotations().ValidateOnStart();
        services.AddRateLimiter(o =>
        {
            o.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
            o.OnRejected = (context, _) =>
            {
                var http = context.HttpContext;
                http.Response.Headers.RetryAfter = "60";
                return http.GetEndpoint()?.Metadata.GetMetadata<OpenAi.OpenAiRoute>() is null ? ValueTask.CompletedTask
                    : new ValueTask(OpenAi.OpenAiErrors.WriteAsync(http, StatusCodes.Status429TooManyRequests, "Rate limit reached; retry after 60 s.", "rate_limit_exceeded"));
            };
            o.AddPolicy(Policy, http =>
            {
                int permits = http.RequestServices.GetRequiredService<Microsoft.Extensions.Options.IOptions<RateLimitOptions>>().Value.PermitsPerMinute;
                // With API keys on, each key has its own window; otherwise (or without a valid key) the client address does.
                return RateLimitPartition.GetFixedWindowLimiter(ApiKeys.Partition(http) ?? http.Connection.RemoteIpAddress?.ToString() ?? "unknown",
                    _ => new FixedWindowRateLimiterOptions { PermitLimit = permits, Window = TimeSpan.FromMinutes(1) });
            });
        });
        return services;
    }
}
