using Microsoft.AspNetCore.Diagnostics;
using StackExchange.Redis;

namespace DetailFlow.Api.Hosting;

/// <summary>
/// Redis unreachable or late where a request needs it (the job store, the activation channel): 503 with Retry-After
/// and a problem details body, not a 500 — the service is fine and the request can be sent again once Redis answers
/// (its fail-fast connection refuses commands at once while it reconnects, e.g. right after a start on a loaded host).
/// </summary>
public sealed class StoreUnavailableHandler(IProblemDetailsService problems, ILogger<StoreUnavailableHandler> logger) : IExceptionHandler
{
    public const int RetryAfterSeconds = 2;

    public async ValueTask<bool> TryHandleAsync(HttpContext http, Exception exception, CancellationToken cancellationToken)
    {
        if (exception is not (RedisConnectionException or RedisTimeoutException)) return false;
        logger.LogWarning("{Method} {Path}: Redis did not answer ({Error}); answered 503", http.Request.Method, http.Request.Path, exception.Message);
        http.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
        http.Response.Headers.RetryAfter = RetryAfterSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return await problems.TryWriteAsync(new ProblemDetailsContext
        {
            HttpContext = http,
            Exception = exception,
            ProblemDetails =
            {
                Status = StatusCodes.Status503ServiceUnavailable, Title = "Store unavailable",
                Detail = $"Redis, where this service keeps its jobs, did not answer; nothing was recorded. Retry in {RetryAfterSeconds} s.",
            },
        });
    }
}
