using System.Buffers;
using System.Buffers.Binary;
using System.Text.Json;
using DetailFlow.Core.Generation;
using Microsoft.Extensions.Caching.Hybrid;

namespace DetailFlow.Api.Caching;

/// <summary>
/// A <see cref="CodeEntry"/> as HybridCache stores it (its Redis value, and the size the in-process level counts): a
/// format byte, the length of a small JSON header (everything but the PNG, and the PNG's length), the header, then the
/// PNG's bytes as they are. The default JSON serializer wrote the PNG in base64: a third larger in Redis and in what the
/// in-process level counts against its budget. Values written in that JSON (they start with <c>{</c>) are still read,
/// so entries from an earlier version keep serving until they expire.
/// </summary>
public sealed class CodeEntrySerializer : IHybridCacheSerializer<CodeEntry>
{
    private const byte Format = 1;
    private const int Prefix = 1 + sizeof(int);

    private sealed record Header(string Fingerprint, long ClassId, SamplingOptions Options, long[] Codes, int ImageTokens, int Resolution, int PngBytes);

    public void Serialize(CodeEntry value, IBufferWriter<byte> target)
    {
        ArgumentNullException.ThrowIfNull(value);
        ArgumentNullException.ThrowIfNull(target);
        byte[] header = JsonSerializer.SerializeToUtf8Bytes(
            new Header(value.Fingerprint, value.ClassId, value.Options, value.Codes, value.ImageTokens, value.Image.Resolution, value.Image.Png.Length));
        var prefix = target.GetSpan(Prefix);
        prefix[0] = Format;
        BinaryPrimitives.WriteInt32LittleEndian(prefix[1..], header.Length);
        target.Advance(Prefix);
        target.Write(header);
        target.Write(value.Image.Png);
    }

    public CodeEntry Deserialize(ReadOnlySequence<byte> source)
    {
        var reader = new SequenceReader<byte>(source);
        if (!reader.TryPeek(out byte format)) throw new JsonException("an empty cache value");
        if (format == (byte)'{')
        {
            var json = new Utf8JsonReader(source);
            return JsonSerializer.Deserialize<CodeEntry>(ref json) ?? throw new JsonException("a null cache value");
        }
        if (format != Format) throw new JsonException($"a cache value in an unknown format ({format})");
        reader.Advance(1);
        if (!reader.TryReadLittleEndian(out int length) || length < 0 || length > reader.Remaining)
            throw new JsonException("a cache value cut short");
        var headerJson = new Utf8JsonReader(source.Slice(reader.Position, length));
        var header = JsonSerializer.Deserialize<Header>(ref headerJson) ?? throw new JsonException("a null cache header");
        var png = source.Slice(reader.Position).Slice(length);
        if (png.Length != header.PngBytes) throw new JsonException($"a cache value with {png.Length} of its {header.PngBytes} PNG bytes");
        return new CodeEntry(header.Fingerprint, header.ClassId, header.Options, header.Codes, header.ImageTokens, new CachedImage(header.Resolution, png.ToArray()));
    }
}
