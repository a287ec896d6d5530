using System.Text.Json;
using System.Threading.Channels;
using DetailFlow.Api.Endpoints;
using DetailFlow.Api.Hosting;
using Microsoft.AspNetCore.Http.Features;

namespace DetailFlow.Api.OpenAi;

/// <summary>
/// The <c>stream: true</c> answer: Server-Sent Events as the OpenAI Images API sends them — per image its
/// <c>image_generation.partial_image</c> events (coarsest first), then one <c>image_generation.completed</c>. The n
/// images are generated together but their events are written grouped, image 0's first (each event also carries the
/// extension <c>image_index</c>). Comment lines keep idle connections alive; a failure after the headers went out is an
/// <c>error</c> event in the OpenAI error shape. A client that disconnects cancels its images.
/// </summary>
public sealed class ImagesStream(ImagesPlan plan, LoadedModel model, ILogger logger) : IResult
{
    private static readonly TimeSpan HeartbeatEvery = TimeSpan.FromSeconds(10);

    // Strings in the events are plain ASCII; the relaxed encoder leaves them as they are (the data line is not HTML).
    private static readonly JsonSerializerOptions Json = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public async Task ExecuteAsync(HttpContext http)
    {
        var response = http.Response;
        response.ContentType = "text/event-stream";
        response.Headers.CacheControl = "no-cache";
        http.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
        await EventWriter.WriteCommentAsync(response.BodyWriter, "stream open", http.RequestAborted);   // the headers go out now, not with the first image

        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(http.RequestAborted);
        var channels = Enumerable.Range(0, plan.N).Select(_ => Channel.CreateUnbounded<ImageStreamEvent>()).ToArray();
        var work = ProduceAsync(http, channels, cancel.Token);
        try
        {
            foreach (var channel in channels) await DrainAsync(response, channel.Reader, http.RequestAborted);
        }
        catch (Exception e) when (!http.RequestAborted.IsCancellationRequested)
        {
            var error = OpenAiErrors.From(e, http);
            if (error.Status >= 500) logger.LogError(e, "Streamed image generation failed");
            await cancel.CancelAsync();
            await EventWriter.WriteAsync(response.BodyWriter, "error", new { type = "error", error = error.Error }, Json, CancellationToken.None);
        }
        catch (OperationCanceledException) when (http.RequestAborted.IsCancellationRequested)
        {
            // The client left: its images are cancelled below; nothing to report to anyone.
        }
        finally
        {
            await cancel.CancelAsync();
            try { await work; }
            catch (Exception) { /* reported above, or the client left */ }
        }
    }

    /// <summary>Generates the images, previews and final images becoming events of their image's channel (never blocking:
    /// at most partial_images + 1 events an image); a failure completes every channel with it.</summary>
    private async Task ProduceAsync(HttpContext http, Channel<ImageStreamEvent>[] channels, CancellationToken ct)
    {
        try
        {
            var partials = new int[plan.N];
            var images = await ImagesEndpoints.RenderAsync(http, model, plan, (i, p) =>
                channels[i].Writer.TryWrite(Event(ImageStreamEvent.Partial, p, i) with { PartialImageIndex = partials[i]++ }), ct);
            for (int i = 0; i < images.Length; i++)
            {
                channels[i].Writer.TryWrite(Event(ImageStreamEvent.Completed, images[i], i) with { Usage = ImageUsage.For(1, plan.Tokens), Seed = images[i].Seed });
                channels[i].Writer.TryComplete();
            }
        }
        catch (Exception e)
        {
            foreach (var channel in channels) channel.Writer.TryComplete(e);
        }
    }

    private ImageStreamEvent Event(string type, RenderedImage image, int index) => new(type,
        ImageFormats.Convert(image.Png, plan.Format, plan.Compression), DateTimeOffset.UtcNow.ToUnixTimeSeconds(),
        ImagesPlan.SizeText(image.Resolution), plan.Quality, "opaque", plan.Format, index);

    /// <summary>Writes one image's events as they come, a comment line whenever none came for a while; rethrows its failure.</summary>
    private static async Task DrainAsync(HttpResponse response, ChannelReader<ImageStreamEvent> reader, CancellationToken ct)
    {
        while (true)
        {
            using var wait = CancellationTokenSource.CreateLinkedTokenSource(ct);
            wait.CancelAfter(HeartbeatEvery);
            bool more;
            try { more = await reader.WaitToReadAsync(wait.Token); }
            catch (OperationCanceledException) when (wait.IsCancellationRequested && !ct.IsCancellationRequested)
            {
                await EventWriter.WriteCommentAsync(response.BodyWriter, "keep-alive", ct);
                continue;
            }
            if (!more) break;
            while (reader.TryRead(out var e)) await EventWriter.WriteAsync(response.BodyWriter, e.Type, e, Json, ct);
        }
        await reader.Completion;   // throws the producer's failure
    }
}
