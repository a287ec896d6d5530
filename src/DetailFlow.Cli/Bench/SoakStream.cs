using System.Net.Http.Json;
using System.Net.ServerSentEvents;

namespace DetailFlow.Cli.Bench;

/// <summary>
/// One soak stream (<c>POST /v1/generate/stream</c>): read until <c>completed</c> or an <c>error</c> event, or, for a
/// stream to cut, until the first preview, then disconnect. A stream whose body ends without either event is unfinished.
/// </summary>
internal sealed class SoakStream(HttpClient http)
{
    public async Task<SoakRecord> SendAsync(Dictionary<string, object?> body, bool cut, CancellationToken ct)
    {
        string kind = cut ? SoakKinds.StreamCut : SoakKinds.Stream;
        body["previews"] = 2;
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/generate/stream") { Content = JsonContent.Create(body) };
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct);
        if (!response.IsSuccessStatusCode)
        {
            await response.Content.LoadIntoBufferAsync(ct);
            return SoakWorkload.Classify(kind, response, expect4xx: false);
        }
        int status = (int)response.StatusCode;
        await using var events = await response.Content.ReadAsStreamAsync(ct);
        await foreach (var item in SseParser.Create(events).EnumerateAsync(ct))
        {
            switch (item.EventType)
            {
                case "preview" when cut:
                    return SoakRecord.Success(kind, status);   // disposing the response disconnects
                case "completed":
                    return SoakRecord.Success(kind, status);
                case "error":
                    return SoakRecord.FromErrorEvent(kind, item.Data);
            }
        }
        return SoakRecord.Failure(kind, status, "stream ended without completed or error") with { Unfinished = true };
    }
}

/// <summary>A bounded pool of earlier specs or results shared by the clients: the newest <c>capacity</c> kept, one picked at random.</summary>
internal sealed class SoakPool<T>(int capacity)
{
    private readonly T[] _items = new T[capacity];
    private readonly Lock _lock = new();
    private int _count, _next;

    public void Add(T item)
    {
        lock (_lock)
        {
            _items[_next] = item;
            _next = (_next + 1) % _items.Length;
            _count = Math.Min(_count + 1, _items.Length);
        }
    }

    public bool TryPick(Random rng, out T item)
    {
        lock (_lock)
        {
            item = _count > 0 ? _items[rng.Next(_count)] : default!;
            return _count > 0;
        }
    }
}
