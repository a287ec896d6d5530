using System.Net.ServerSentEvents;
using System.Reflection;
using System.Text.Json;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.Extensions.Options;

namespace DetailFlow.Api.Endpoints;

/// <summary>
/// A <c>text/event-stream</c> response of image events, written by <see cref="EventWriter"/> (images in pieces) with
/// the headers of ASP.NET Core's <c>ServerSentEventsResult</c>; the admin job stream, whose events are small, keeps that
/// result. The enumeration is cancelled when the client disconnects.
/// </summary>
public sealed class EventStreamResult(IAsyncEnumerable<SseItem<object>> events) : IResult, IEndpointMetadataProvider
{
    public async Task ExecuteAsync(HttpContext httpContext)
    {
        ArgumentNullException.ThrowIfNull(httpContext);
        var response = httpContext.Response;
        response.ContentType = "text/event-stream";
        response.Headers.CacheControl = "no-cache,no-store";
        response.Headers.Pragma = "no-cache";
        response.Headers.ContentEncoding = "identity";
        httpContext.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
        var json = httpContext.RequestServices.GetService<IOptions<JsonOptions>>()?.Value.SerializerOptions ?? JsonSerializerOptions.Web;
        var ct = httpContext.RequestAborted;
        await foreach (var item in events.WithCancellation(ct))
            await EventWriter.WriteAsync(response.BodyWriter, item.EventType, item.Data, json, ct);
    }

    public static void PopulateMetadata(MethodInfo method, EndpointBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Metadata.Add(new ProducesResponseTypeMetadata(StatusCodes.Status200OK, typeof(SseItem<object>), ["text/event-stream"]));
    }
}
