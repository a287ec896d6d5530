using System.Net.ServerSentEvents;
using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Threading.Channels;
using DetailFlow.Api.Batching;
using DetailFlow.Api.Hosting;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;

namespace DetailFlow.Api.Endpoints;

/// <summary>
/// <c>text/event-stream</c> generation: a <c>heartbeat</c> at once (headers go out with the first event) and while
/// waiting, a <c>preview</c> per requested prefix, then <c>completed</c> or <c>error</c> (problem details). A client that
/// disconnects cancels its own row only.
/// </summary>
public static class StreamEndpoints
{
    private static readonly TimeSpan HeartbeatEvery = TimeSpan.FromSeconds(10);

    /// <summary>Maps the routes in the v1 generation group (<see cref="V1Endpoints"/>).</summary>
    internal static void MapStreamEndpoints(this RouteGroupBuilder api)
    {
        api.MapPost("generate/stream", (GenerateRequest? request, ModelState state, ImageGenerator generator, HttpContext http) =>
            Stream(request, state, generator, http)).WithName("GenerateStream").WithSummary("Generate one image, streaming previews (SSE)");
        api.MapGet("generate/stream", ([AsParameters] GenerateRequest request, ModelState state, ImageGenerator generator, HttpContext http) =>
            Stream(request, state, generator, http)).WithName("GenerateStreamGet").WithSummary("The same stream for EventSource (query parameters)");
    }

    public static Results<EventStreamResult, ValidationProblem, ProblemHttpResult> Stream(
        GenerateRequest? request, ModelState state, ImageGenerator generator, HttpContext http)
    {
        if (state.Rent(http) is not { } model) return Problems.NotReady();
        var (valid, errors) = RequestValidator.Validate(request, model, stream: true);
        if (valid is not null && valid.N != 1) { errors["n"] = ["the stream generates one image; n must be 1"]; valid = null; }
        if (valid is null) return TypedResults.ValidationProblem(errors, title: "Invalid generation request");
        http.Response.Headers["X-Model-Fingerprint"] = model.Fingerprint;
        return new EventStreamResult(Events(model, valid.Image, valid.Previews, generator, http, http.RequestAborted));
    }

    /// <summary>The event sequence of one streamed image (generation or refinement).</summary>
    internal static async IAsyncEnumerable<SseItem<object>> Events(LoadedModel model, ImageSpec spec, IReadOnlySet<int> previews,
        ImageGenerator generator, HttpContext http, [EnumeratorCancellation] CancellationToken ct)
    {
        yield return Heartbeat();
        // Never blocks a writer (the job's PNG chain, which every caller sharing the computation waits on, must not wait
        // for one reader): room for every requested preview and the last event, so a reader that falls behind loses
        // nothing and the memory it holds is bounded by the schedule; the oldest previews go only if that ever overflows.
        var events = Channel.CreateBounded<SseItem<object>>(new BoundedChannelOptions(previews.Count + 2)
        {
            SingleReader = true, FullMode = BoundedChannelFullMode.DropOldest,
        });
        int index = 0;
        var work = Task.Run(async () =>
        {
            try
            {
                var outcome = await generator.GenerateAsync(model, spec, previews,
                    image => events.Writer.TryWrite(new SseItem<object>(new PreviewEvent(index++, image.Tokens, image.Resolution,
                        image.Png), "preview")), ct);
                var r = outcome.Result;
                events.Writer.TryWrite(new SseItem<object>(new CompletedEvent(outcome.Seed, r.Image.Tokens, r.Image.Resolution,
                    r.Image.Png, outcome.CodesId, outcome.CacheHit), "completed"));
            }
            catch (Exception e) when (!ct.IsCancellationRequested)
            {
                events.Writer.TryWrite(new SseItem<object>(Problems.ForStream(e, http), "error"));
            }
            finally
            {
                events.Writer.TryComplete();
            }
        }, CancellationToken.None);

        while (true)
        {
            using var wait = CancellationTokenSource.CreateLinkedTokenSource(ct);
            wait.CancelAfter(HeartbeatEvery);
            bool more;
            try { more = await events.Reader.WaitToReadAsync(wait.Token); }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested) { more = true; }
            if (!more) break;
            if (!events.Reader.TryRead(out var item)) { yield return Heartbeat(); continue; }
            yield return item;
        }
        await work;
    }

    private static SseItem<object> Heartbeat() => new(new { time = DateTimeOffset.UtcNow }, "heartbeat");
}

/// <summary>A preview; its PNG goes out last, as <c>png_b64</c> (<see cref="EventWriter"/>).</summary>
public sealed record PreviewEvent(
    [property: JsonPropertyName("index")] int Index,
    [property: JsonPropertyName("tokens")] int Tokens,
    [property: JsonPropertyName("resolution")] int Resolution,
    [property: JsonIgnore] byte[] Png) : IImageEvent
{
    string IImageEvent.ImageProperty => "png_b64";
    byte[] IImageEvent.Image => Png;
}

/// <summary>The final image; its PNG goes out last, as <c>png_b64</c> (<see cref="EventWriter"/>).</summary>
public sealed record CompletedEvent(
    [property: JsonPropertyName("seed")] long Seed,
    [property: JsonPropertyName("tokens")] int Tokens,
    [property: JsonPropertyName("resolution")] int Resolution,
    [property: JsonIgnore] byte[] Png,
    [property: JsonPropertyName("codes_id")] string CodesId,
    [property: JsonPropertyName("cached")] bool Cached) : IImageEvent
{
    string IImageEvent.ImageProperty => "png_b64";
    byte[] IImageEvent.Image => Png;
}
