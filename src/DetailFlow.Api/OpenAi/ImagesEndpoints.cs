using System.Text.Json;
using DetailFlow.Api.Batching;
using DetailFlow.Api.Hosting;
using Microsoft.AspNetCore.Mvc;

namespace DetailFlow.Api.OpenAi;

/// <summary>Marks the OpenAI-compatible routes: their failures (401 and 429 included) use the OpenAI error shape.</summary>
public sealed class OpenAiRoute
{
    public static readonly OpenAiRoute Instance = new();
}

/// <summary>An image (or a preview) as the OpenAI routes see it, whatever the native path returns.</summary>
public sealed record RenderedImage(byte[] Png, int Resolution, int Tokens, long Seed);

/// <summary>
/// <c>POST /v1/images/generations</c>, the OpenAI Images API over the class-conditional model (docs/openai.md). The body
/// is read here rather than bound, so bad JSON, wrong types, unknown fields and oversize bodies all answer in the OpenAI
/// error shape; <c>stream</c> comes from the body only (the .NET SDK always sends <c>Accept: text/event-stream</c>).
/// </summary>
public static class ImagesEndpoints
{
    private static readonly JsonSerializerOptions Json = new() { MaxDepth = 8 };

    /// <summary>Maps the route in the v1 generation group (<see cref="Endpoints.V1Endpoints"/>): its rate limit, body cap and keys.</summary>
    public static void MapOpenAiEndpoints(this RouteGroupBuilder generation)
    {
        generation.MapPost("images/generations", Generate).WithTags("OpenAI-compatible").WithName("CreateImage")
            .WithSummary("OpenAI Images API: prompt = a class label, synonym or id; b64_json images, or SSE with stream = true")
            // "*/*" too: routing would otherwise answer other content types itself, as problem details; the handler's 415 is OpenAI-shaped.
            .Accepts<ImagesRequest>("application/json", "*/*")
            .Produces<ImagesResponse>(StatusCodes.Status200OK).Produces(StatusCodes.Status200OK, contentType: "text/event-stream")
            .Produces<OpenAiErrorBody>(StatusCodes.Status400BadRequest).Produces<OpenAiErrorBody>(StatusCodes.Status401Unauthorized)
            .Produces<OpenAiErrorBody>(StatusCodes.Status404NotFound).Produces<OpenAiErrorBody>(StatusCodes.Status429TooManyRequests)
            .WithMetadata(OpenAiRoute.Instance);
    }

    public static async Task<IResult> Generate(HttpContext http, ModelState state, ILoggerFactory logs)
    {
        try
        {
            var request = await ReadAsync(http.Request, http.RequestAborted);
            if (state.Rent(http) is not { } model) throw OpenAiErrors.NotReady();
            var plan = ImagesPlan.From(request, model);
            if (plan.Stream) return new ImagesStream(plan, model, logs.CreateLogger(typeof(ImagesStream)));
            var images = await RenderAsync(http, model, plan, null, http.RequestAborted);
            var data = images.Select(g => new ImageData(ImageFormats.Convert(g.Png, plan.Format, plan.Compression), g.Seed));
            return TypedResults.Ok(new ImagesResponse(DateTimeOffset.UtcNow.ToUnixTimeSeconds(), data.ToArray(), "opaque", plan.Size(model),
                plan.Quality, plan.Format, ImageUsage.For(plan.N, plan.Tokens)));
        }
        catch (Exception e)
        {
            var error = OpenAiErrors.From(e, http);
            if (error.Status >= 500) logs.CreateLogger(typeof(ImagesEndpoints)).LogError(e, "Image generation failed");
            return OpenAiErrors.Result(error);
        }
    }

    /// <summary>
    /// The one coupling to the native generation path: the plan's n images (seeds seed + index), admitted to the queue
    /// together; previews at the plan's prefixes go to <paramref name="onPartial"/> with their image's index (it must not block).
    /// </summary>
    internal static async Task<RenderedImage[]> RenderAsync(HttpContext http, Hosting.LoadedModel model, ImagesPlan plan,
        Action<int, RenderedImage>? onPartial, CancellationToken ct)
    {
        var generator = http.RequestServices.GetRequiredService<ImageGenerator>();
        var specs = Enumerable.Range(0, plan.N)
            .Select(i => new ImageSpec(plan.ClassId, plan.Options with { Seed = plan.Options.Seed + i }, plan.Tokens, plan.SeedGiven)).ToArray();
        var outcomes = await generator.GenerateAsync(model, specs, plan.Previews,
            onPartial is null ? null : (i, p) => onPartial(i, new RenderedImage(p.Png, p.Resolution, p.Tokens, specs[i].Options.Seed)), ct);
        return outcomes.Select(o => new RenderedImage(o.Result.Image.Png, o.Result.Image.Resolution, o.Result.Image.Tokens, o.Seed)).ToArray();
    }

    /// <summary>The body as an <see cref="ImagesRequest"/>: JSON object, known fields only, each of its type.</summary>
    private static async Task<ImagesRequest> ReadAsync(HttpRequest request, CancellationToken ct)
    {
        if (!request.HasJsonContentType())
            throw new OpenAiException(415, "Send the request body as JSON (Content-Type: application/json).", code: "unsupported_media_type");
        JsonDocument document;
        try { document = await JsonDocument.ParseAsync(request.Body, new JsonDocumentOptions { MaxDepth = 8 }, ct); }
        catch (JsonException) { throw new OpenAiException(400, "We could not parse the JSON body of your request: it is not valid JSON.", code: "invalid_json"); }
        catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            throw new OpenAiException(413, $"The request body is larger than {RequestLimits.MaxBodyBytes} bytes.", code: "request_too_large");
        }
        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object) throw new OpenAiException(400, "The request body must be a JSON object.", code: "invalid_json");
            foreach (var field in root.EnumerateObject())
                if (!ImagesRequest.Fields.Contains(field.Name))
                    throw new OpenAiException(400, $"Unrecognized request argument supplied: {Cut(field.Name)}", Cut(field.Name), "unknown_parameter");
            try { return root.Deserialize<ImagesRequest>(Json) ?? throw new OpenAiException(400, "The request body must be a JSON object."); }
            catch (JsonException e)
            {
                string param = (e.Path ?? "$").TrimStart('$', '.');
                throw new OpenAiException(400, $"Invalid type for '{param}': {Expected(param)}.", param, "invalid_type");
            }
        }
    }

    private static string Expected(string param) => param switch
    {
        "n" or "output_compression" or "partial_images" => "expected an integer",
        "seed" => "expected a non-negative integer",
        "stream" => "expected a boolean",
        _ => "expected a string",
    };

    private static string Cut(string s) => s.Length <= 64 ? s : s[..64] + "…";
}
