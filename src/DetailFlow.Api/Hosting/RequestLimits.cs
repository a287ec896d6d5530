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
                context.HttpContext.Response.Headers.RetryAfter = "60";
                return ValueTask.CompletedTask;
            };
            o.AddPolicy(Policy, http =>
            {
                int permits = http.RequestServices.GetRequiredService<Microsoft.Extensions.Options.IOptions<RateLimitOptions>>().Value.PermitsPerMinute;
                return RateLimitPartition.GetFixedWindowLimiter(http.Connection.RemoteIpAddress?.ToString() ?? "unknown",
                    _ => new FixedWindowRateLimiterOptions { PermitLimit = permits, Window = TimeSpan.FromMinutes(1) });
            });
        });
        return services;
    }
}
