using System.Text.Json.Serialization;
using DetailFlow.Api.Endpoints;

namespace DetailFlow.Api.OpenAi;

/// <summary>The error body of the OpenAI API: <c>{"error": {"message", "type", "param", "code"}}</c>.</summary>
public sealed record OpenAiErrorBody([property: JsonPropertyName("error")] OpenAiError Error);

public sealed record OpenAiError(
    [property: JsonPropertyName("message")] string Message,
    [property: JsonPropertyName("type")] string Type,
    [property: JsonPropertyName("param")] string? Param,
    [property: JsonPropertyName("code")] string? Code);

/// <summary>A request the OpenAI routes refuse: its status and the error the client sees.</summary>
public sealed class OpenAiException(int status, string message, string? param = null, string? code = null, string? type = null)
    : Exception(message)
{
    public int Status { get; } = status;
    public OpenAiError Error { get; } = new(message, type ?? TypeFor(status), param, code);

    /// <summary>The error types the OpenAI SDKs' users see for each status.</summary>
    public static string TypeFor(int status) => status switch
    {
        401 => "authentication_error",
        404 or 400 or 413 or 415 or 422 => "invalid_request_error",
        429 => "rate_limit_error",
        499 => "client_closed_request",
        503 => "service_unavailable",
        504 => "timeout",
        _ => "server_error",
    };
}

/// <summary>The one place the OpenAI routes turn failures into the OpenAI error shape (problem details stay on the native routes).</summary>
public static class OpenAiErrors
{
    public static IResult Result(OpenAiException e) => TypedResults.Json(new OpenAiErrorBody(e.Error), statusCode: e.Status);

    public static IResult Result(int status, string message, string? param = null, string? code = null) =>
        Result(new OpenAiException(status, message, param, code));

    public static Task WriteAsync(HttpContext http, int status, string message, string? code = null) =>
        Result(status, message, code: code).ExecuteAsync(http);

    /// <summary>A generation failure as an OpenAI error; the native mapping decides status and message (and Retry-After).</summary>
    public static OpenAiException From(Exception e, HttpContext http) => e switch
    {
        OpenAiException known => known,
        _ when Problems.Map(e, http)?.ProblemDetails is { } p => new OpenAiException(p.Status ?? 500, p.Detail ?? p.Title ?? "Generation failed."),
        _ => new OpenAiException(500, "The image could not be generated (an unexpected error occurred)."),
    };

    public static OpenAiException NotReady() =>
        new(503, "The model is still loading; retry when /readyz reports ready.", code: "model_not_ready");
}
