using System.IO.Compression;

namespace DetailFlow.Training.Data;

/// <summary>
/// NumPy <c>.npz</c>: a zip of <c>&lt;name&gt;.npy</c> members, written uncompressed as <c>np.savez</c> does (read back
/// stored or deflated, so <c>np.savez_compressed</c> files open too). float64 arrays only — FID statistics.
/// </summary>
public static class NpzFile
{
    public static void WriteFloat64(string path, IReadOnlyDictionary<string, (double[] Data, long[] Shape)> arrays)
    {
        string tmp = path + ".tmp";
        using (var zip = ZipFile.Open(tmp, ZipArchiveMode.Create))
            foreach (var (name, (data, shape)) in arrays)
            {
                using var entry = zip.CreateEntry(name + ".npy", CompressionLevel.NoCompression).Open();
                NpyFile.WriteFloat64(entry, data, shape);
            }
        File.Move(tmp, path, overwrite: true);
    }

    /// <summary>Reads the named float64/float32 arrays; a missing file or member is an error naming it (and the members present).</summary>
    public static Dictionary<string, (double[] Data, long[] Shape)> ReadFloat64(string path, params string[] names)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"npz file not found: {path}", path);
        using var zip = ZipFile.OpenRead(path);
        var result = new Dictionary<string, (double[], long[])>(StringComparer.Ordinal);
        foreach (var name in names)
        {
            var entry = zip.GetEntry(name + ".npy") ?? throw new InvalidDataException(
                $"{path}: no array '{name}' (it has: {string.Join(", ", zip.Entries.Select(e => Path.GetFileNameWithoutExtension(e.FullName)))})");
            using var stream = entry.Open();
            result[name] = NpyFile.ReadFloat64(stream, $"{path}:{name}");
        }
        return result;
    }
}
