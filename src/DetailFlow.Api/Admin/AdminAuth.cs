using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;

namespace DetailFlow.Api.Admin;

/// <summary>
/// Guards <c>/admin/*</c> with the <c>X-Api-Key</c> header: no key configured → 401 for everyone (admin is off); header
/// missing → 401; wrong → 403. The comparison is constant-time over SHA-256 digests (so neither content nor length
/// leaks through timing); the key and the header are never logged.
/// </summary>
public sealed class AdminAuth(IOptions<AdminOptions> options) : IEndpointFilter
{
    public const string Header = "X-Api-Key";

    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        string expected = options.Value.ApiKey;
        var http = context.HttpContext;
        if (string.IsNullOrEmpty(expected))
            return Unauthorized("The admin API is off: no Admin:ApiKey (environment Admin__ApiKey) is configured.");
        if (!http.Request.Headers.TryGetValue(Header, out var given) || given.Count != 1 || string.IsNullOrEmpty(given[0]))
            return Unauthorized($"Send the admin API key in the {Header} header.");
        return Matches(given[0]!, expected)
            ? await next(context)
            : TypedResults.Problem($"The {Header} header does not hold the admin API key.", statusCode: StatusCodes.Status403Forbidden, title: "Forbidden");
    }

    internal static bool Matches(string given, string expected) =>
        CryptographicOperations.FixedTimeEquals(SHA256.HashData(Encoding.UTF8.GetBytes(given)), SHA256.HashData(Encoding.UTF8.GetBytes(expected)));

    private static IResult Unauthorized(string detail)
    {
        return new UnauthorizedProblem(detail);
    }

    private sealed class UnauthorizedProblem(string detail) : IResult
    {
        public Task ExecuteAsync(HttpContext http)
        {
            http.Response.Headers.WWWAuthenticate = Header;
            return TypedResults.Problem(detail, statusCode: StatusCodes.Status401Unauthorized, title: "Unauthorized").ExecuteAsync(http);
        }
    }
}
