using System.Text;
using System.Text.RegularExpressions;

namespace DetailFlow.Training.Data;

/// <summary>
/// NumPy <c>.npy</c> (format 1.0) for little-endian arrays in C order: int64 (the dtype <c>extract_codes_c2i.py</c> saves
/// codes and labels in) and float64 (FID statistics inside <see cref="NpzFile"/>), so the files open with <c>np.load</c>.
/// </summary>
public static partial class NpyFile
{
    private static readonly byte[] Magic = [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y'];

    public static void WriteInt64(string path, ReadOnlySpan<long> data, IReadOnlyList<long> shape)
    {
        using var stream = File.Create(path);
        WriteHeader(stream, "<i8", data.Length, shape);
        stream.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(data));
    }

    /// <summary>Writes a float64 array (<c>'&lt;f8'</c>) to <paramref name="stream"/>.</summary>
    public static void WriteFloat64(Stream stream, ReadOnlySpan<double> data, IReadOnlyList<long> shape)
    {
        WriteHeader(stream, "<f8", data.Length, shape);
        stream.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(data));
    }

    /// <summary>Reads a float64 or float32 (<c>'&lt;f8'</c> / <c>'&lt;f4'</c>) array as float64; <paramref name="name"/> names it in errors.</summary>
    public static (double[] Data, long[] Shape) ReadFloat64(Stream stream, string name)
    {
        var (descr, shape) = ReadHeader(stream, name);
        long count = shape.Aggregate(1L, (a, d) => a * d);
        int width = descr switch
        {
            "<f8" => 8,
            "<f4" => 4,
            _ => throw new InvalidDataException($"{name}: expected a little-endian float64 or float32 array, got dtype '{descr}'"),
        };
        var bytes = new byte[checked((int)(count * width))];
        stream.ReadExactly(bytes);
        if (width == 8)
        {
            var data = new double[count];
            Buffer.BlockCopy(bytes, 0, data, 0, bytes.Length);
            return (data, shape);
        }
        var floats = new float[count];
        Buffer.BlockCopy(bytes, 0, floats, 0, bytes.Length);
        return (Array.ConvertAll(floats, f => (double)f), shape);
    }

    private static void WriteHeader(Stream stream, string descr, int length, IReadOnlyList<long> shape)
    {
        long count = shape.Aggregate(1L, (a, d) => a * d);
        if (count != length) throw new ArgumentException($"shape ({string.Join(", ", shape)}) holds {count} values, got {length}", nameof(shape));
        string dims = shape.Count == 1 ? $"{shape[0]}," : string.Join(", ", shape);
        string header = $"{{'descr': '{descr}', 'fortran_order': False, 'shape': ({dims}), }}";
        int total = Magic.Length + 2 + 2 + header.Length + 1;
        header = header.PadRight(header.Length + (64 - total % 64) % 64) + "\n";
        stream.Write(Magic);
        stream.Write([1, 0]);
        stream.Write(BitConverter.GetBytes((ushort)header.Length));
        stream.Write(Encoding.ASCII.GetBytes(header));
    }

    private static (string Descr, long[] Shape) ReadHeader(Stream stream, string name)
    {
        using var reader = new BinaryReader(stream, Encoding.ASCII, leaveOpen: true);
        var magic = reader.ReadBytes(Magic.Length);
        if (!magic.AsSpan().SequenceEqual(Magic)) throw new InvalidDataException($"{name}: not a .npy file");
        byte major = reader.ReadByte();
        reader.ReadByte();
        int headerLength = major == 1 ? reader.ReadUInt16() : (int)reader.ReadUInt32();
        string header = Encoding.ASCII.GetString(reader.ReadBytes(headerLength));
        if (header.Contains("'fortran_order': True", StringComparison.Ordinal)) throw new InvalidDataException($"{name}: Fortran-order arrays are not supported");
        var d = DescrPattern().Match(header);
        if (!d.Success) throw new InvalidDataException($"{name}: no dtype in header {header.Trim()}");
        var m = ShapePattern().Match(header);
        if (!m.Success) throw new InvalidDataException($"{name}: no shape in header {header.Trim()}");
        var shape = m.Groups[1].Value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(long.Parse).ToArray();
        return (d.Groups[1].Value, shape);
    }

    public static (long[] Data, long[] Shape) ReadInt64(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"npy file not found: {path}", path);
        using var stream = File.OpenRead(path);
        var (descr, shape) = ReadHeader(stream, path);
        if (descr != "<i8") throw new InvalidDataException($"{path}: only little-endian int64 arrays are supported, dtype '{descr}'");
        long count = shape.Aggregate(1L, (a, d) => a * d);
        var bytes = new byte[checked((int)(count * 8))];
        int read = stream.ReadAtLeast(bytes, bytes.Length, throwOnEndOfStream: false);
        if (read != bytes.Length) throw new InvalidDataException($"{path}: truncated: {read} of {count * 8} payload bytes");
        var data = new long[count];
        Buffer.BlockCopy(bytes, 0, data, 0, bytes.Length);
        return (data, shape);
    }

    [GeneratedRegex(@"'descr':\s*'([^']*)'")]
    private static partial Regex DescrPattern();

    [GeneratedRegex(@"'shape':\s*\(([^)]*)\)")]
    private static partial Regex ShapePattern();
}
