using System.Net.Http.Json;
using System.Text;
using System.Text.Json;

namespace DetailFlow.Cli.Bench;

/// <summary>
/// The soak's mixed workload: each call to <see cref="NextAsync"/> picks one request kind (plain generations, a fifth
/// of them repeating an earlier class/seed/tokens; streams, a tenth of them cut after the first preview; refines of
/// earlier results; <c>n = 4</c>; malformed bodies that must get 4xx; the OpenAI route when the service has it), sends
/// it and says how it went. Earlier specs and results are shared by all clients, so a repeat or a refine may use
/// another client's result.
/// </summary>
internal sealed class SoakWorkload(HttpClient http, SoakModel model, bool openAi, TimeSpan requestTimeout)
{
    internal sealed record Spec(int ClassId, long Seed, int Tokens);

    private readonly SoakPool<Spec> _earlier = new(512);
    private readonly SoakPool<(string CodesId, int Tokens)> _results = new(512);
    private readonly SoakStream _stream = new(http);

    public async Task<SoakRecord> NextAsync(Random rng, long runStart, CancellationToken ct)
    {
        int roll = rng.Next(100);
        double start = System.Diagnostics.Stopwatch.GetElapsedTime(runStart).TotalSeconds;
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(requestTimeout);
        SoakRecord record;
        try
        {
            record = roll switch
            {
                < 35 => await GenerateAsync(rng, timeout.Token),
                < 60 => await StreamAsync(rng, timeout.Token),
                < 70 => await RefineAsync(rng, timeout.Token),
                < 75 => await BatchAsync(rng, timeout.Token),
                < 90 => await MalformedAsync(rng, timeout.Token),
                _ => openAi ? await OpenAiAsync(rng, timeout.Token) : await GenerateAsync(rng, timeout.Token),
            };
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            // A stream past the timeout is stuck (heartbeats keep it open forever); a plain request, an error of its own.
            bool stream = roll is >= 35 and < 60;
            record = SoakRecord.Failure(KindOf(roll), null, "timeout") with { Unfinished = stream, NoAnswer = !stream };
        }
        catch (Exception e) when (e is HttpRequestException or IOException or JsonException)
        {
            record = SoakRecord.Failure(KindOf(roll), null, e.GetType().Name) with { NoAnswer = e is not JsonException };
        }
        double end = System.Diagnostics.Stopwatch.GetElapsedTime(runStart).TotalSeconds;
        return record with { StartSeconds = start, LatencySeconds = end - start };
    }

    private string KindOf(int roll) => roll switch
    {
        < 35 => SoakKinds.Generate, < 60 => SoakKinds.Stream, < 70 => SoakKinds.Refine, < 75 => SoakKinds.Batch,
        < 90 => "malformed", _ => openAi ? SoakKinds.OpenAi : SoakKinds.Generate,
    };

    /// <summary>A random class and seed; tokens the maximum 60 % of the time (always for a stream to cut: it needs a preview).</summary>
    private Spec NewSpec(Random rng, bool streamCut)
    {
        var schedule = model.Schedule;
        int tokens = streamCut || rng.Next(10) < 6 ? model.MaxTokens : schedule[rng.Next(schedule.Count)];
        return new Spec(rng.Next(model.NumClasses), rng.NextInt64(0, 1L << 40), tokens);
    }

    /// <summary>The class by label half of the time (when the model has labels), by id otherwise.</summary>
    private Dictionary<string, object?> Body(Spec spec, Random rng) => new()
    {
        ["class"] = model.Labels.Count > spec.ClassId && rng.Next(2) == 0 ? model.Labels[spec.ClassId] : spec.ClassId,
        ["seed"] = spec.Seed,
        ["tokens"] = spec.Tokens,
    };

    private async Task<SoakRecord> GenerateAsync(Random rng, CancellationToken ct)
    {
        Spec? earlier = null;
        bool repeat = rng.Next(5) == 0 && _earlier.TryPick(rng, out earlier);
        var spec = repeat ? earlier! : NewSpec(rng, streamCut: false);
        string kind = repeat ? SoakKinds.Repeat : SoakKinds.Generate;
        using var response = await http.PostAsJsonAsync("/v1/generate", Body(spec, rng), ct);
        var bytes = await response.Content.ReadAsByteArrayAsync(ct);
        var record = Classify(kind, response, expect4xx: false);
        if (!record.Ok) return record;
        if (response.Content.Headers.ContentType?.MediaType != "image/png" || bytes.Length == 0)
            return SoakRecord.Failure(kind, record.Status, "not a PNG");
        _earlier.Add(spec);
        if (response.Headers.TryGetValues("X-Codes-Id", out var ids) && spec.Tokens < model.MaxTokens) _results.Add((ids.First(), spec.Tokens));
        bool hit = response.Headers.TryGetValues("X-Cache", out var cache) && cache.First() == "hit";
        return record with { CacheHit = hit };
    }

    private Task<SoakRecord> StreamAsync(Random rng, CancellationToken ct)
    {
        bool cut = rng.Next(10) == 0;
        return _stream.SendAsync(Body(NewSpec(rng, streamCut: cut), rng), cut, ct);
    }

    private async Task<SoakRecord> RefineAsync(Random rng, CancellationToken ct)
    {
        if (!_results.TryPick(rng, out var earlier)) return await GenerateAsync(rng, ct);
        var larger = model.Schedule.Where(t => t > earlier.Tokens).ToArray();
        var body = new Dictionary<string, object?>
        {
            ["codes_id"] = earlier.CodesId, ["tokens"] = larger.Length > 0 ? larger[rng.Next(larger.Length)] : model.MaxTokens,
        };
        using var response = await http.PostAsJsonAsync("/v1/refine", body, ct);
        await response.Content.LoadIntoBufferAsync(ct);
        return Classify(SoakKinds.Refine, response, expect4xx: false);
    }

    private async Task<SoakRecord> BatchAsync(Random rng, CancellationToken ct)
    {
        var body = Body(NewSpec(rng, streamCut: false), rng);
        body["n"] = 4;
        body["response_format"] = "b64_json";
        using var response = await http.PostAsJsonAsync("/v1/generate", body, ct);
        string text = await response.Content.ReadAsStringAsync(ct);
        var record = Classify(SoakKinds.Batch, response, expect4xx: false);
        if (!record.Ok) return record;
        int images = Count(text, "images");
        return images == 4 ? record : SoakRecord.Failure(SoakKinds.Batch, record.Status, $"{images} images for n=4");
    }

    private async Task<SoakRecord> OpenAiAsync(Random rng, CancellationToken ct)
    {
        using var response = await http.PostAsJsonAsync(OpenAiRoute, OpenAiBody(model, rng), ct);
        string text = await response.Content.ReadAsStringAsync(ct);
        var record = Classify(SoakKinds.OpenAi, response, expect4xx: false);
        if (!record.Ok) return record;
        return Count(text, "data") >= 1 ? record : SoakRecord.Failure(SoakKinds.OpenAi, record.Status, "no image in data");
    }

    public const string OpenAiRoute = "/v1/images/generations";

    public static Dictionary<string, object?> OpenAiBody(SoakModel model, Random rng)
    {
        int classId = rng.Next(model.NumClasses);
        return new()
        {
            ["prompt"] = model.Labels.Count > classId ? model.Labels[classId] : classId.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["n"] = 1, ["seed"] = rng.NextInt64(0, 1L << 40), ["response_format"] = "b64_json",
        };
    }

    private async Task<SoakRecord> MalformedAsync(Random rng, CancellationToken ct)
    {
        var (kind, json) = rng.Next(3) switch
        {
            0 => (SoakKinds.BadJson, "{\"class\": 1, \"seed\": "),
            1 => (SoakKinds.BadType, rng.Next(2) == 0 ? "{\"class\": 1, \"seed\": \"not a number\"}" : "{\"class\": {\"id\": 1}, \"tokens\": [1]}"),
            _ => (SoakKinds.BadClass, rng.Next(2) == 0
                ? $"{{\"class\": \"no-such-class-{rng.Next(1_000_000)}\"}}"
                : $"{{\"class\": {model.NumClasses + rng.Next(1000)}}}"),
        };
        using var content = new StringContent(json, Encoding.UTF8, "application/json");
        using var response = await http.PostAsync("/v1/generate", content, ct);
        await response.Content.LoadIntoBufferAsync(ct);
        return Classify(kind, response, expect4xx: true);
    }

    /// <summary>429/503 are refusals; otherwise 2xx is expected, or 4xx for a malformed request.</summary>
    internal static SoakRecord Classify(string kind, HttpResponseMessage response, bool expect4xx)
    {
        int status = (int)response.StatusCode;
        if (status is 429 or 503) return SoakRecord.Refusal(kind, status, SoakRecord.Seconds(response.Headers.RetryAfter));
        bool expected = expect4xx ? status is >= 400 and < 500 : response.IsSuccessStatusCode;
        return expected ? SoakRecord.Success(kind, status) : SoakRecord.Failure(kind, status, expect4xx ? $"HTTP {status} (expected 4xx)" : $"HTTP {status}");
    }

    private static int Count(string json, string arrayProperty)
    {
        using var document = JsonDocument.Parse(json);
        return document.RootElement.TryGetProperty(arrayProperty, out var array) && array.ValueKind == JsonValueKind.Array ? array.GetArrayLength() : 0;
    }
}
