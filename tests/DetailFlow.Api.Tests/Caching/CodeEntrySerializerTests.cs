using System.Buffers;
using System.Text.Json;
using DetailFlow.Api.Caching;
using DetailFlow.Core.Generation;

namespace DetailFlow.Api.Tests;

/// <summary>The cache's stored form of an entry: the PNG as its bytes, read back whole from any segmentation, and the earlier JSON form still read.</summary>
public sealed class CodeEntrySerializerTests
{
    private static CodeEntry Entry()
    {
        var png = new byte[200_000];
        new Random(7).NextBytes(png);
        var options = new SamplingOptions { CfgScale = 2.5, TopK = 40, TopP = 0.9, Temperature = 0.8, Seed = 1234567890123 };
        return new CodeEntry("104064ab5c78a82f", 207, options, Enumerable.Range(0, 128).Select(i => (long)(i * 61 % 8192)).ToArray(), 96,
            new CachedImage(224, png));
    }

    private static byte[] Serialized(CodeEntry entry)
    {
        var buffer = new ArrayBufferWriter<byte>();
        new CodeEntrySerializer().Serialize(entry, buffer);
        return buffer.WrittenSpan.ToArray();
    }

    private static void AssertSame(CodeEntry expected, CodeEntry actual)
    {
        Assert.Equal(expected.Fingerprint, actual.Fingerprint);
        Assert.Equal(expected.ClassId, actual.ClassId);
        Assert.Equal(expected.Options, actual.Options);
        Assert.Equal(expected.Codes, actual.Codes);
        Assert.Equal(expected.ImageTokens, actual.ImageTokens);
        Assert.Equal(expected.Image.Resolution, actual.Image.Resolution);
        Assert.Equal(expected.Image.Png, actual.Image.Png);
    }

    [Fact]
    public void AnEntry_IsItsPngAndASmallHeader_AndReadsBackTheSame()
    {
        var entry = Entry();
        byte[] bytes = Serialized(entry);
        Assert.InRange(bytes.Length, entry.Image.Png.Length, entry.Image.Png.Length + 2_000);
        Assert.True(bytes.Length < JsonSerializer.SerializeToUtf8Bytes(entry).Length * 4 / 5);   // base64 made the JSON a third larger
        AssertSame(entry, new CodeEntrySerializer().Deserialize(new ReadOnlySequence<byte>(bytes)));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(700)]
    [InlineData(65_536)]
    public void AValueInSegments_ReadsBackTheSame(int segment)
    {
        var entry = Entry();
        AssertSame(entry, new CodeEntrySerializer().Deserialize(Segmented(Serialized(entry), segment)));
    }

    [Fact]
    public void AnEntryWrittenAsJson_ByAnEarlierVersion_IsStillRead()
    {
        var entry = Entry();
        AssertSame(entry, new CodeEntrySerializer().Deserialize(Segmented(JsonSerializer.SerializeToUtf8Bytes(entry), 4_096)));
    }

    [Fact]
    public void AValueCutShortOrOfAnotherFormat_IsRefused()
    {
        byte[] bytes = Serialized(Entry());
        var serializer = new CodeEntrySerializer();
        Assert.Throws<JsonException>(() => serializer.Deserialize(new ReadOnlySequence<byte>(bytes.AsMemory(0, 3))));
        Assert.Throws<JsonException>(() => serializer.Deserialize(new ReadOnlySequence<byte>(bytes.AsMemory(0, 40))));
        Assert.Throws<JsonException>(() => serializer.Deserialize(new ReadOnlySequence<byte>(bytes.AsMemory(0, bytes.Length - 1))));
        Assert.Throws<JsonException>(() => serializer.Deserialize(ReadOnlySequence<byte>.Empty));
        bytes[0] = 9;
        Assert.Throws<JsonException>(() => serializer.Deserialize(new ReadOnlySequence<byte>(bytes)));
    }

    private static ReadOnlySequence<byte> Segmented(byte[] bytes, int size)
    {
        Segment first = new(bytes.AsMemory(0, Math.Min(size, bytes.Length)), 0), last = first;
        for (int at = size; at < bytes.Length; at += size) last = last.Append(bytes.AsMemory(at, Math.Min(size, bytes.Length - at)));
        return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory, long start)
        {
            Memory = memory;
            RunningIndex = start;
        }

        public Segment Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Segment(memory, RunningIndex + Memory.Length);
            Next = next;
            return next;
        }
    }
}
