using System.Text;
using System.Text.RegularExpressions;

namespace DetailFlow.Training.Data;

/// <summary>
/// NumPy <c>.npy</c> (format 1.0) for little-endian int64 arrays, C order — the dtype <c>extract_codes_c2i.py</c> saves
/// codes and labels in, so the files open with <c>np.load</c>.
/// </summary>
public static partial class NpyFile
{
    private static readonly byte[] Magic = [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y'];

    public static void WriteInt64(string path, ReadOnlySpan<long> data, IReadOnlyList<long> shape)
    {
        long count = shape.Aggregate(1L, (a, d) => a * d);
        if (count != data.Length) throw new ArgumentException($"shape ({string.Join(", ", shape)}) holds {count} values, got {data.Length}", nameof(shape));
        string dims = shape.Count == 1 ? $"{shape[0]}," : string.Join(", ", shape);
        string header = $"{{'descr': '<i8', 'fortran_order': False, 'shape': ({dims}), }}";
        int total = Magic.Length + 2 + 2 + header.Length + 1;
        header = header.PadRight(header.Length + (64 - total % 64) % 64) + "\n";
        using var stream = File.Create(path);
        using var writer = new BinaryWriter(stream);
        writer.Write(Magic);
        writer.Write((byte)1); writer.Write((byte)0);
        writer.Write((ushort)header.Length);
        writer.Write(Encoding.ASCII.GetBytes(header));
        foreach (long v in data) writer.Write(v);
    }

    public static (long[] Data, long[] Shape) ReadInt64(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"npy file not found: {path}", path);
        using var stream = File.OpenRead(path);
        using var reader = new BinaryReader(stream);
        var magic = reader.ReadBytes(Magic.Length);
        if (!magic.AsSpan().SequenceEqual(Magic)) throw new InvalidDataException($"{path}: not a .npy file");
        byte major = reader.ReadByte();
        reader.ReadByte();
        int headerLength = major == 1 ? reader.ReadUInt16() : (int)reader.ReadUInt32();
        string header = Encoding.ASCII.GetString(reader.ReadBytes(headerLength));
        if (!header.Contains("'descr': '<i8'", StringComparison.Ordinal))
            throw new InvalidDataException($"{path}: only little-endian int64 arrays are supported, header {header.Trim()}");
        if (header.Contains("'fortran_order': True", StringComparison.Ordinal)) throw new InvalidDataException($"{path}: Fortran-order arrays are not supported");
        var m = ShapePattern().Match(header);
        if (!m.Success) throw new InvalidDataException($"{path}: no shape in header {header.Trim()}");
        var shape = m.Groups[1].Value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(long.Parse).ToArray();
        long count = shape.Aggregate(1L, (a, d) => a * d);
        var bytes = reader.ReadBytes(checked((int)(count * 8)));
        if (bytes.Length != count * 8) throw new InvalidDataException($"{path}: truncated: {bytes.Length} of {count * 8} payload bytes");
        var data = new long[count];
        Buffer.BlockCopy(bytes, 0, data, 0, bytes.Length);
        return (data, shape);
    }

    [GeneratedRegex(@"'shape':\s*\(([^)]*)\)")]
    private static partial Regex ShapePattern();
}
