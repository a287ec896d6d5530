using DetailFlow.Api.Batching;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;

namespace DetailFlow.Api.Endpoints;

/// <summary>
/// The one place generation failures become RFC 9457 problem details, by exception type: each failure a client can
/// cause or wait out has its own type and status. Anything else is a fault of the service: a 500 with a log line
/// (the exception handler's for plain responses, <see cref="ForStream"/>'s for streams), never a 4xx.
/// </summary>
public static class Problems
{
    public static ProblemHttpResult NotReady() => TypedResults.Problem(
        "The model is still loading; retry when /readyz reports ready.", statusCode: StatusCodes.Status503ServiceUnavailable, title: "Model not loaded");

    /// <summary>Maps a known failure (and sets Retry-After for 429 and 503); null for anything unexpected (let it propagate).</summary>
    public static ProblemHttpResult? Map(Exception e, HttpContext http)
    {
        switch (e)
        {
            case QueueFullException full:
                RetryAfter(http, full.RetryAfterSeconds);
                return TypedResults.Problem("The generation queue is full; retry later.", statusCode: StatusCodes.Status429TooManyRequests, title: "Queue full",
                    extensions: RetryAfterMember(full.RetryAfterSeconds));
            case ServiceStoppingException stopping:
                RetryAfter(http, stopping.RetryAfterSeconds);
                return TypedResults.Problem(stopping.Message, statusCode: StatusCodes.Status503ServiceUnavailable, title: "Shutting down",
                    extensions: RetryAfterMember(stopping.RetryAfterSeconds));
            case DeadlineExceededException deadline:
                return TypedResults.Problem(deadline.Message, statusCode: StatusCodes.Status504GatewayTimeout, title: "Deadline exceeded");
            case OperationCanceledException when http.RequestAborted.IsCancellationRequested:
                return TypedResults.Problem("The client went away.", statusCode: 499, title: "Client closed request");
            default:
                return null;
        }
    }

    /// <summary>A stream's failure as problem details: <see cref="Map"/>'s, or a logged 500 for an unexpected fault.</summary>
    public static ProblemDetails ForStream(Exception e, HttpContext http)
    {
        if (Map(e, http) is { } known) return known.ProblemDetails;
        http.RequestServices?.GetService<ILoggerFactory>()?.CreateLogger(typeof(Problems).FullName!)
            .LogError(e, "Generation failed in a stream");
        return new ProblemDetails { Status = 500, Title = "Generation failed", Detail = "An unexpected error occurred." };
    }

    /// <summary>The wait in the body too: a stream whose headers have gone out can only say it there.</summary>
    private static Dictionary<string, object?> RetryAfterMember(int seconds) => new() { ["retry_after"] = seconds };

    /// <summary>Sets Retry-After unless the response has started (an SSE stream reports the problem as an event instead).</summary>
    private static void RetryAfter(HttpContext http, int seconds)
    {
        if (!http.Response.HasStarted) http.Response.Headers.RetryAfter = seconds.ToString();
    }
}
