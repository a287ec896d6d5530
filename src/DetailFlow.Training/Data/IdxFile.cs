using System.Buffers.Binary;
using System.IO.Compression;

namespace DetailFlow.Training.Data;

/// <summary>
/// An IDX file (the MNIST / Fashion-MNIST format): two zero bytes, a type byte (0x08 = uint8, the only type these sets
/// use), the number of dimensions n, n big-endian int32 sizes, then the payload row-major. Files ending in <c>.gz</c>
/// are read through <see cref="GZipStream"/>.
/// </summary>
public sealed record IdxFile(int[] Dimensions, byte[] Data)
{
    private const byte UnsignedByteType = 0x08;

    /// <summary>Reads the whole file, or only the first <paramref name="maxItems"/> items along dimension 0.</summary>
    public static IdxFile Read(string path, int? maxItems = null)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"IDX file not found: {path}", path);
        if (maxItems is < 0) throw new ArgumentOutOfRangeException(nameof(maxItems), maxItems, "item limit must be non-negative");
        using var file = File.OpenRead(path);
        using Stream stream = path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase) ? new GZipStream(file, CompressionMode.Decompress) : file;
        Span<byte> magic = stackalloc byte[4];
        ReadExactly(stream, magic, path, "header");
        if (magic[0] != 0 || magic[1] != 0)
            throw new InvalidDataException($"{path}: not an IDX file (magic {magic[0]:X2} {magic[1]:X2}, expected 00 00)");
        if (magic[2] != UnsignedByteType)
            throw new InvalidDataException($"{path}: IDX element type 0x{magic[2]:X2} is not supported (only 0x08, unsigned byte)");
        int n = magic[3];
        if (n < 1) throw new InvalidDataException($"{path}: IDX file with {n} dimensions");
        var dims = new int[n];
        Span<byte> size = stackalloc byte[4];
        for (int i = 0; i < n; i++)
        {
            ReadExactly(stream, size, path, $"size of dimension {i}");
            dims[i] = BinaryPrimitives.ReadInt32BigEndian(size);
            if (dims[i] < 0) throw new InvalidDataException($"{path}: negative size {dims[i]} for dimension {i}");
        }
        long itemSize = dims.Skip(1).Aggregate(1L, (a, d) => a * d);
        int items = maxItems is { } m ? Math.Min(m, dims[0]) : dims[0];
        long total = itemSize * items;
        if (total > Array.MaxLength) throw new InvalidDataException($"{path}: payload of {total} bytes is too large");
        var data = new byte[total];
        ReadExactly(stream, data, path, $"payload of {dims[0]} items (dimensions {string.Join("×", dims)})");
        dims[0] = items;
        return new IdxFile(dims, data);
    }

    private static void ReadExactly(Stream stream, Span<byte> buffer, string path, string what)
    {
        int read = stream.ReadAtLeast(buffer, buffer.Length, throwOnEndOfStream: false);
        if (read != buffer.Length)
            throw new InvalidDataException($"{path}: truncated IDX file: {what} needs {buffer.Length} bytes, only {read} present");
    }
}
