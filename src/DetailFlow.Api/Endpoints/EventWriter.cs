using System.Buffers;
using System.Buffers.Text;
using System.IO.Pipelines;
using System.Text;
using System.Text.Json;

namespace DetailFlow.Api.Endpoints;

/// <summary>
/// An event's data that carries one image: serialized without it (the implementing record marks the bytes
/// <c>[JsonIgnore]</c>), then the image follows as the last JSON property, in base64, written by <see cref="EventWriter"/>.
/// </summary>
public interface IImageEvent
{
    /// <summary>The JSON property that holds the image (base64).</summary>
    string ImageProperty { get; }

    /// <summary>The image's encoded bytes (PNG, JPEG or WebP).</summary>
    byte[] Image { get; }
}

/// <summary>
/// Writes Server-Sent Events straight into a response's <see cref="PipeWriter"/>. An image goes out in base64 pieces
/// of at most <see cref="ChunkBytes"/>, flushed as they go: no whole event is buffered (.NET's <c>SseFormatter</c>
/// formats each event into two pooled buffers, which grew to 512 KiB for a 256 px image and stayed rented for the
/// stream's life; docs/memory.md, "SSE events written in pieces").
/// </summary>
public static class EventWriter
{
    /// <summary>Base64 text written before a flush; 3/4 of it is image bytes.</summary>
    public const int ChunkBytes = 16 * 1024;

    // A piece of base64 small enough to fit a Kestrel block (4 KiB less its chunk framing): larger size hints get
    // memory from outside the connection's pool.
    private const int PieceInput = 3 * 512;

    /// <summary><c>event: type</c>, then <c>data:</c> with <paramref name="data"/>'s JSON on one line, then a blank line; flushed.</summary>
    public static async ValueTask WriteAsync(PipeWriter body, string eventType, object data, JsonSerializerOptions json, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(body);
        ArgumentNullException.ThrowIfNull(data);
        Write(body, $"event: {eventType}\ndata: ");
        var head = JsonSerializer.SerializeToUtf8Bytes(data, data.GetType(), json);   // one line: the serializer escapes newlines
        if (data is IImageEvent image)
        {
            if (head.Length < 2 || head[0] != '{' || head[^1] != '}')
                throw new InvalidOperationException($"{data.GetType().Name} does not serialize to a JSON object");
            body.Write(head.AsSpan(0, head.Length - 1));
            Write(body, $"{(head.Length > 2 ? "," : "")}{JsonSerializer.Serialize(image.ImageProperty, json)}:\"");
            await WriteBase64Async(body, image.Image, ct);
            Write(body, "\"}");
        }
        else body.Write(head);
        Write(body, "\n\n");
        await body.FlushAsync(ct);
    }

    /// <summary>A comment line (ignored by readers; keeps an idle connection open); flushed.</summary>
    public static async ValueTask WriteCommentAsync(PipeWriter body, string text, CancellationToken ct)
    {
        Write(body, $": {text}\n\n");
        await body.FlushAsync(ct);
    }

    private static async ValueTask WriteBase64Async(PipeWriter body, byte[] bytes, CancellationToken ct)
    {
        int pending = 0;
        for (int i = 0; i < bytes.Length; i += PieceInput)
        {
            // Every piece but the last is a multiple of 3 bytes: no padding inside the string.
            var piece = bytes.AsSpan(i, Math.Min(PieceInput, bytes.Length - i));
            var span = body.GetSpan(Base64.GetMaxEncodedToUtf8Length(piece.Length));
            Base64.EncodeToUtf8(piece, span, out _, out int written);
            body.Advance(written);
            pending += written;
            if (pending >= ChunkBytes)
            {
                await body.FlushAsync(ct);
                pending = 0;
            }
        }
    }

    private static void Write(PipeWriter body, string text) => body.Write(Encoding.UTF8.GetBytes(text));
}
