using System.Net.Http.Headers;
using System.Text.Json;

namespace DetailFlow.Cli.Bench;

/// <summary>
/// One soak request: its kind (<see cref="SoakKinds"/>), when it started (seconds into the run), how long it took, the
/// HTTP status (or the status of a stream's <c>error</c> event), and what went wrong (null: as expected). A refusal
/// (429/503) is not an error of the service when it says when to come back (<see cref="RetryAfterSeconds"/>).
/// </summary>
public sealed record SoakRecord(string Kind, int? Status, string? Error)
{
    public double StartSeconds { get; init; }
    public double LatencySeconds { get; init; }

    /// <summary>Answered 429 or 503 (as a response, or as a stream's error event).</summary>
    public bool Refused { get; init; }

    /// <summary>A refusal's Retry-After (header, or <c>retry_after</c> of a stream's error problem); null when absent.</summary>
    public double? RetryAfterSeconds { get; init; }

    /// <summary>A stream that ended, or hung past the request timeout, without <c>completed</c> or an <c>error</c> event.</summary>
    public bool Unfinished { get; init; }

    /// <summary>No HTTP answer: a connection error, or a request other than a stream past the request timeout.</summary>
    public bool NoAnswer { get; init; }

    /// <summary>The service's <c>X-Cache</c> said hit (plain generations only).</summary>
    public bool? CacheHit { get; init; }

    public bool Ok => Error is null;

    /// <summary>A 5xx that is not a refusal (a 503 refusal without Retry-After is counted as a refusal without it instead).</summary>
    public bool ServerError => Status >= 500 && !Refused;

    public double EndSeconds => StartSeconds + LatencySeconds;

    public static SoakRecord Success(string kind, int status) => new(kind, status, null);

    public static SoakRecord Failure(string kind, int? status, string error) => new(kind, status, error);

    public static SoakRecord Refusal(string kind, int status, double? retryAfter) =>
        new(kind, status, $"refused {status}") { Refused = true, RetryAfterSeconds = retryAfter };

    /// <summary>
    /// An <c>error</c> event carries problem details: a 429/503 there is a refusal (its retry hint can only be a
    /// <c>retry_after</c> member: the headers have gone out), anything else a failure with the problem's status.
    /// </summary>
    public static SoakRecord FromErrorEvent(string kind, string data)
    {
        int? status = null;
        double? retryAfter = null;
        try
        {
            using var problem = JsonDocument.Parse(data);
            var root = problem.RootElement;
            if (root.ValueKind == JsonValueKind.Object)
            {
                if (root.TryGetProperty("status", out var s) && s.TryGetInt32(out int v)) status = v;
                foreach (string name in new[] { "retry_after", "retryAfter" })
                    if (root.TryGetProperty(name, out var r) && r.TryGetDouble(out double seconds)) retryAfter = seconds;
            }
        }
        catch (JsonException) { }
        if (status is 429 or 503) return Refusal(kind, status.Value, retryAfter) with { Error = $"refused {status} (error event)" };
        return Failure(kind, status, $"error event {(status is { } x ? x.ToString(System.Globalization.CultureInfo.InvariantCulture) : "without status")}");
    }

    /// <summary>The Retry-After header in seconds (a date is turned into the wait until then); null when absent.</summary>
    public static double? Seconds(RetryConditionHeaderValue? header) =>
        header?.Delta?.TotalSeconds ?? (header?.Date is { } date ? Math.Max(0, (date - DateTimeOffset.UtcNow).TotalSeconds) : null);
}

/// <summary>The request kinds of the soak's mixed workload.</summary>
public static class SoakKinds
{
    public const string Generate = "generate";
    /// <summary>A plain generation repeating an earlier class, seed and tokens: the code cache should answer.</summary>
    public const string Repeat = "generate (repeat)";
    public const string Stream = "stream";
    /// <summary>A stream the client disconnects from after the first preview.</summary>
    public const string StreamCut = "stream (cut)";
    public const string Refine = "refine";
    public const string Batch = "generate n=4";
    public const string BadJson = "malformed: bad JSON";
    public const string BadType = "malformed: wrong type";
    public const string BadClass = "malformed: unknown class";
    public const string OpenAi = "openai images";

    public static bool IsMalformed(string kind) => kind.StartsWith("malformed", StringComparison.Ordinal);
}
