using DetailFlow.Api.Batching;
using Microsoft.AspNetCore.Http.HttpResults;

namespace DetailFlow.Api.Endpoints;

/// <summary>The one place generation failures become RFC 9457 problem details.</summary>
public static class Problems
{
    public static ProblemHttpResult NotReady() => TypedResults.Problem(
        "The model is still loading; retry when /readyz reports ready.", statusCode: StatusCodes.Status503ServiceUnavailable, title: "Model not loaded");

    /// <summary>Maps a known failure (and sets Retry-After for 429); null for anything unexpected.</summary>
    public static ProblemHttpResult? Map(Exception e, HttpContext http)
    {
        switch (e)
        {
            case QueueFullException full:
                RetryAfter(http, full.RetryAfterSeconds);
                return TypedResults.Problem("The generation queue is full; retry later.", statusCode: StatusCodes.Status429TooManyRequests, title: "Queue full");
            case ServiceStoppingException stopping:
                RetryAfter(http, stopping.RetryAfterSeconds);
                return TypedResults.Problem(stopping.Message, statusCode: StatusCodes.Status503ServiceUnavailable, title: "Shutting down");
            case DeadlineExceededException deadline:
                return TypedResults.Problem(deadline.Message, statusCode: StatusCodes.Status504GatewayTimeout, title: "Deadline exceeded");
            case ArgumentException bad:
                return TypedResults.Problem(bad.Message, statusCode: StatusCodes.Status400BadRequest, title: "Invalid generation request");
            case OperationCanceledException when http.RequestAborted.IsCancellationRequested:
                return TypedResults.Problem("The client went away.", statusCode: 499, title: "Client closed request");
            default:
                return null;
        }
    }

    /// <summary>Sets Retry-After unless the response has started (an SSE stream reports the problem as an event instead).</summary>
    private static void RetryAfter(HttpContext http, int seconds)
    {
        if (!http.Response.HasStarted) http.Response.Headers.RetryAfter = seconds.ToString();
    }
}
