using System.Buffers;
using System.IO.Pipelines;
using System.Net.ServerSentEvents;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using DetailFlow.Api.Endpoints;
using DetailFlow.Api.OpenAi;

namespace DetailFlow.Api.Tests;

public sealed class EventWriterTests
{
    private static byte[] Bytes(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    /// <summary>What ASP.NET Core's formatter wrote for an event: the record's JSON with the image among its properties.</summary>
    private static JsonNode Expected(object data, JsonSerializerOptions json)
    {
        var node = JsonSerializer.SerializeToNode(data, data.GetType(), json)!;
        if (data is IImageEvent image) node[image.ImageProperty] = Convert.ToBase64String(image.Image);
        return node;
    }

    private static async Task<List<SseItem<string>>> Parse(byte[] written)
    {
        var items = new List<SseItem<string>>();
        await foreach (var item in SseParser.Create(new MemoryStream(written)).EnumerateAsync()) items.Add(item);
        return items;
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(1536)]
    [InlineData(1537)]
    [InlineData(200_000)]
    public async Task Events_ReadBackAsTheirJsonWithTheImageInBase64(int imageBytes)
    {
        var json = JsonSerializerOptions.Web;
        var relaxed = new JsonSerializerOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
        var events = new (string Type, object Data, JsonSerializerOptions Json)[]
        {
            ("heartbeat", new { time = DateTimeOffset.UnixEpoch }, json),
            ("preview", new PreviewEvent(0, 16, 48, Bytes(imageBytes, 1)), json),
            ("completed", new CompletedEvent(7, 128, 256, Bytes(imageBytes, 2), "abc:128", Cached: false), json),
            (ImageStreamEvent.Partial, new ImageStreamEvent(ImageStreamEvent.Partial, Bytes(imageBytes, 3), 1, "256x256", "auto", "opaque", "png", 0,
                PartialImageIndex: 0), relaxed),
            ("only", new OnlyAnImage(Bytes(imageBytes, 4)), json),
            ("error", new { type = "error", error = new { message = "line one\nline two <&>" } }, relaxed),
        };
        var pipe = new Pipe(new PipeOptions(pauseWriterThreshold: 0));
        foreach (var (type, data, options) in events) await EventWriter.WriteAsync(pipe.Writer, type, data, options, CancellationToken.None);
        await EventWriter.WriteCommentAsync(pipe.Writer, "keep-alive", CancellationToken.None);
        await pipe.Writer.CompleteAsync();
        var written = (await pipe.Reader.ReadAsync()).Buffer.ToArray();

        var items = await Parse(written);
        Assert.Equal(events.Select(e => e.Type), items.Select(i => i.EventType));
        for (int i = 0; i < events.Length; i++)
            Assert.True(JsonNode.DeepEquals(Expected(events[i].Data, events[i].Json), JsonNode.Parse(items[i].Data)), $"{events[i].Type}: {items[i].Data[..Math.Min(200, items[i].Data.Length)]}");
        Assert.EndsWith("\n\n: keep-alive\n\n", Encoding.UTF8.GetString(written), StringComparison.Ordinal);
    }

    [Fact]
    public async Task AnImage_GoesOutInPiecesFlushedAsTheyGo()
    {
        var image = Bytes(300_000, 5);
        var writer = new RecordingWriter(new Pipe(new PipeOptions(pauseWriterThreshold: 0)).Writer);
        await EventWriter.WriteAsync(writer, "completed", new CompletedEvent(1, 128, 256, image, "id", false), JsonSerializerOptions.Web, CancellationToken.None);

        int base64 = (image.Length + 2) / 3 * 4;
        Assert.True(writer.Written > base64, $"{writer.Written} bytes written");
        Assert.True(writer.MostUnflushed <= EventWriter.ChunkBytes + 4096, $"{writer.MostUnflushed} bytes held before a flush");
        Assert.True(writer.Flushes >= base64 / (EventWriter.ChunkBytes + 4096), $"{writer.Flushes} flushes");
        Assert.True(writer.LargestHint <= 4096 - 16, $"a {writer.LargestHint}-byte span asked for");
    }

    private sealed record OnlyAnImage([property: JsonIgnore] byte[] Bytes) : IImageEvent
    {
        string IImageEvent.ImageProperty => "img";
        byte[] IImageEvent.Image => Bytes;
    }

    /// <summary>Counts what an event writer advances between flushes and the largest span it asks for.</summary>
    private sealed class RecordingWriter(PipeWriter inner) : PipeWriter
    {
        private long _unflushed;
        public long Written { get; private set; }
        public long MostUnflushed { get; private set; }
        public int Flushes { get; private set; }
        public int LargestHint { get; private set; }

        public override void Advance(int bytes)
        {
            Written += bytes;
            _unflushed += bytes;
            MostUnflushed = Math.Max(MostUnflushed, _unflushed);
            inner.Advance(bytes);
        }

        public override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default)
        {
            Flushes++;
            _unflushed = 0;
            return inner.FlushAsync(cancellationToken);
        }

        public override Memory<byte> GetMemory(int sizeHint = 0)
        {
            LargestHint = Math.Max(LargestHint, sizeHint);
            return inner.GetMemory(sizeHint);
        }

        public override Span<byte> GetSpan(int sizeHint = 0)
        {
            LargestHint = Math.Max(LargestHint, sizeHint);
            return inner.GetSpan(sizeHint);
        }

        public override void CancelPendingFlush() => inner.CancelPendingFlush();
        public override void Complete(Exception? exception = null) => inner.Complete(exception);
    }
}
