using System.Text.Json;

namespace DetailFlow.Cli.Bench;

/// <summary>
/// What the soak needs to know of the served model, read from <c>GET /v1/models</c>: the class labels (or only their
/// count) and the token counts of the schedule. Accepts the DetailFlow shape (<c>{"models": [...]}</c>) and the OpenAI
/// list shape (<c>{"object": "list", "data": [...]}</c> with the DetailFlow fields on each entry).
/// </summary>
public sealed record SoakModel(string Id, IReadOnlyList<string> Labels, int NumClasses, IReadOnlyList<int> Schedule)
{
    public int MaxTokens => Schedule[^1];

    /// <summary>The first model of the list; throws <see cref="InvalidOperationException"/> when the shape is not understood.</summary>
    public static SoakModel Parse(string json)
    {
        using var document = JsonDocument.Parse(json);
        var root = document.RootElement;
        JsonElement list = default;
        bool found = root.ValueKind == JsonValueKind.Object
            && (root.TryGetProperty("models", out list) || root.TryGetProperty("data", out list))
            && list.ValueKind == JsonValueKind.Array && list.GetArrayLength() > 0;
        if (!found) throw new InvalidOperationException("GET /v1/models: expected {\"models\": [...]} or {\"data\": [...]} with one model at least");
        var model = list[0];
        string id = model.TryGetProperty("id", out var i) && i.ValueKind == JsonValueKind.String ? i.GetString()! : "?";
        var labels = model.TryGetProperty("labels", out var l) && l.ValueKind == JsonValueKind.Array
            ? l.EnumerateArray().Where(e => e.ValueKind == JsonValueKind.String).Select(e => e.GetString()!).ToArray()
            : [];
        int classes = model.TryGetProperty("num_classes", out var n) && n.TryGetInt32(out int c) ? c : labels.Length;
        var schedule = model.TryGetProperty("schedule", out var s) && s.ValueKind == JsonValueKind.Array
            ? s.EnumerateArray().Select(e => e.TryGetProperty("tokens", out var t) && t.TryGetInt32(out int v) ? v : 0).Where(v => v > 0).Order().ToArray()
            : [];
        if (schedule.Length == 0 && model.TryGetProperty("max_tokens", out var m) && m.TryGetInt32(out int max)) schedule = [max];
        if (classes < 1 || schedule.Length == 0)
            throw new InvalidOperationException($"GET /v1/models: model '{id}' lists no classes or no schedule");
        return new SoakModel(id, labels, classes, schedule);
    }

    /// <summary>The schedule's token counts up to <paramref name="cap"/> (all when null; the smallest one when none fits).</summary>
    public SoakModel Capped(int? cap)
    {
        if (cap is not { } c) return this;
        var kept = Schedule.Where(t => t <= c).ToArray();
        return this with { Schedule = kept.Length > 0 ? kept : [Schedule[0]] };
    }
}
