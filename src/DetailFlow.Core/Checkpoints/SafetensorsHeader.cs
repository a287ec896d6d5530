using System.Buffers.Binary;
using System.Text.Json;

namespace DetailFlow.Core.Checkpoints;

/// <summary>
/// The index at the start of a <c>.safetensors</c> file (an 8-byte little-endian length, then JSON: name →
/// dtype, shape, data offsets): what a loader checks before it reads any tensor.
/// </summary>
public static class SafetensorsHeader
{
    /// <summary>A tensor's shape and its size in the file.</summary>
    public sealed record Entry(long[] Shape, long Bytes);

    private const long MaxHeaderBytes = 100L << 20;   // the format's own limit

    public static IReadOnlyDictionary<string, Entry> Read(string path)
    {
        using var stream = File.OpenRead(path);
        if (stream.Length < 8) throw new InvalidDataException($"{path}: not a safetensors file ({stream.Length} bytes)");
        Span<byte> prefix = stackalloc byte[8];
        stream.ReadExactly(prefix);
        ulong length = BinaryPrimitives.ReadUInt64LittleEndian(prefix);
        if (length == 0 || length > (ulong)Math.Min(MaxHeaderBytes, stream.Length - 8))
            throw new InvalidDataException($"{path}: not a safetensors file (header length {length} in a {stream.Length}-byte file)");
        var json = new byte[length];
        stream.ReadExactly(json);
        using var doc = JsonDocument.Parse(json);
        var entries = new Dictionary<string, Entry>(StringComparer.Ordinal);
        foreach (var p in doc.RootElement.EnumerateObject())
        {
            if (p.Name == "__metadata__") continue;
            var shape = p.Value.GetProperty("shape").EnumerateArray().Select(d => d.GetInt64()).ToArray();
            var offsets = p.Value.GetProperty("data_offsets").EnumerateArray().Select(d => d.GetInt64()).ToArray();
            if (offsets.Length != 2 || offsets[1] < offsets[0])
                throw new InvalidDataException($"{path}: tensor '{p.Name}' has invalid data offsets");
            entries[p.Name] = new Entry(shape, offsets[1] - offsets[0]);
        }
        return entries;
    }
}
