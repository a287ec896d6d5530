using System.Security.Cryptography;
using System.Text;
using DetailFlow.Api.OpenAi;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.Options;

namespace DetailFlow.Api.Hosting;

/// <summary>Section <c>Auth</c>: the keys of the public API. Empty (the default) leaves it open.</summary>
public sealed class AuthOptions
{
    /// <summary>Accepted keys (environment <c>Auth__ApiKeys__0</c>, <c>Auth__ApiKeys__1</c>, …).</summary>
    public string[] ApiKeys { get; set; } = [];
}

/// <summary>
/// Optional keys for the public API: when <see cref="AuthOptions.ApiKeys"/> holds any, every endpoint under the
/// per-client rate limit (generation, stream, refine, the OpenAI routes) needs <c>Authorization: Bearer &lt;key&gt;</c>
/// (what the OpenAI SDKs send) or <c>X-Api-Key</c>; 401 otherwise, in the OpenAI error shape on the OpenAI routes and
/// as problem details elsewhere. Keys are compared in constant time over SHA-256 digests and never logged. Health,
/// metrics, the page, the models list and the OpenAPI document stay open; <c>/admin</c> keeps its own key.
/// </summary>
public static class ApiKeys
{
    public const string Header = "X-Api-Key";

    public static IServiceCollection AddApiKeys(this IServiceCollection services)
    {
        services.AddOptions<AuthOptions>().BindConfiguration("Auth")
            .Validate(o => o.ApiKeys.All(k => !string.IsNullOrWhiteSpace(k)), "Auth:ApiKeys must not hold empty keys").ValidateOnStart();
        return services;
    }

    /// <summary>Before the rate limiter, so a request without a key costs no permit.</summary>
    public static IApplicationBuilder UseApiKeys(this IApplicationBuilder app) => app.Use(async (http, next) =>
    {
        var keys = http.RequestServices.GetRequiredService<IOptions<AuthOptions>>().Value.ApiKeys;
        if (keys.Length == 0 || !IsPublicApi(http.GetEndpoint()) || Match(http, keys) is not null)
        {
            await next(http);
            return;
        }
        http.Response.Headers.WWWAuthenticate = "Bearer";
        const string message = "An API key is required: send Authorization: Bearer <key> or the X-Api-Key header.";
        if (http.GetEndpoint()?.Metadata.GetMetadata<OpenAiRoute>() is not null)
            await OpenAiErrors.WriteAsync(http, StatusCodes.Status401Unauthorized, message, "invalid_api_key");
        else
            await TypedResults.Problem(message, statusCode: StatusCodes.Status401Unauthorized, title: "Unauthorized").ExecuteAsync(http);
    });

    /// <summary>The rate-limit partition of a request that holds a valid key ("key:&lt;index&gt;", never the key); else null.</summary>
    public static string? Partition(HttpContext http)
    {
        var keys = http.RequestServices.GetService<IOptions<AuthOptions>>()?.Value.ApiKeys ?? [];
        return keys.Length > 0 && Match(http, keys) is { } index ? $"key:{index}" : null;
    }

    private static bool IsPublicApi(Endpoint? endpoint) =>
        endpoint?.Metadata.GetMetadata<EnableRateLimitingAttribute>()?.PolicyName == RequestLimits.Policy
        || endpoint?.Metadata.GetMetadata<OpenAiRoute>() is not null;

    /// <summary>The index of the key the request presents, or null; every key is compared, so timing says nothing of which.</summary>
    internal static int? Match(HttpContext http, string[] keys)
    {
        if (Presented(http.Request) is not { Length: > 0 } given) return null;
        var digest = SHA256.HashData(Encoding.UTF8.GetBytes(given));
        int? found = null;
        for (int i = 0; i < keys.Length; i++)
            if (CryptographicOperations.FixedTimeEquals(digest, SHA256.HashData(Encoding.UTF8.GetBytes(keys[i]))) && found is null) found = i;
        return found;
    }

    private static string? Presented(HttpRequest request)
    {
        string? authorization = request.Headers.Authorization.Count == 1 ? request.Headers.Authorization[0] : null;
        if (authorization is not null && authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase)) return authorization[7..].Trim();
        return request.Headers.TryGetValue(Header, out var key) && key.Count == 1 ? key[0] : null;
    }
}
