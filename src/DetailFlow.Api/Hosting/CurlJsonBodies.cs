namespace DetailFlow.Api.Hosting;

/// <summary>
/// <c>curl -d '{"class": "Bag"}'</c> sends JSON labelled <c>application/x-www-form-urlencoded</c> (curl's default for
/// <c>-d</c>). A POST so labelled whose body opens with <c>{</c> (never a real form) is relabelled JSON, so the design
/// card's one-liner works as written. It runs before routing, which otherwise picks the 415 endpoint by content type.
/// </summary>
public static class CurlJsonBodies
{
    private const string Form = "application/x-www-form-urlencoded";
    private const int Peek = 64;   // leading whitespace looked past

    public static IApplicationBuilder UseCurlJsonBodies(this IApplicationBuilder app) => app.Use(async (http, next) =>
    {
        var request = http.Request;
        if (HttpMethods.IsPost(request.Method) && request.ContentType is { } type && type.StartsWith(Form, StringComparison.OrdinalIgnoreCase)
            && await OpensWithBraceAsync(request, http.RequestAborted))
            request.ContentType = "application/json";
        await next(http);
    });

    private static async Task<bool> OpensWithBraceAsync(HttpRequest request, CancellationToken ct)
    {
        // Once the body is read its size limit is fixed, before the endpoint's own could apply: set the JSON endpoints' limit here.
        if (request.HttpContext.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
            limit.MaxRequestBodySize = RequestLimits.MaxBodyBytes;
        request.EnableBuffering();
        var buffer = new byte[Peek];
        int filled = 0, read;
        while (filled < Peek && (read = await request.Body.ReadAsync(buffer.AsMemory(filled), ct)) > 0)
        {
            filled += read;
            if (buffer.AsSpan(0, filled).TrimStart(" \t\r\n"u8).Length > 0) break;
        }
        request.Body.Position = 0;
        var start = buffer.AsSpan(0, filled).TrimStart(" \t\r\n"u8);
        return start.Length > 0 && start[0] == (byte)'{';
    }
}
