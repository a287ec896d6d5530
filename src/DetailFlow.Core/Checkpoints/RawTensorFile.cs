using System.Text.Json;
using TorchSharp;
using static TorchSharp.torch;

namespace DetailFlow.Core.Checkpoints;

/// <summary>
/// The fixtures' pickle-free tensor format: one <c>.bin</c> of concatenated little-endian, C-contiguous tensors and a
/// JSON index (<c>bin_file</c>, <c>meta</c>, <c>tensors[{name, dtype, shape, offset, nbytes}]</c>). dtype is
/// <c>float32</c> or <c>int64</c>; weight names are PyTorch state-dict keys.
/// </summary>
public sealed class RawTensorFile : IDisposable
{
    private readonly Dictionary<string, Tensor> _tensors;

    private RawTensorFile(string path, JsonElement meta, Dictionary<string, Tensor> tensors)
    {
        Path = path;
        Meta = meta;
        _tensors = tensors;
    }

    public string Path { get; }

    /// <summary>The <c>meta</c> object of the index (an empty object when absent).</summary>
    public JsonElement Meta { get; }

    public IReadOnlyCollection<string> Names => _tensors.Keys;

    public bool Contains(string name) => _tensors.ContainsKey(name);

    /// <summary>The named tensor; throws naming the file when it is missing.</summary>
    public Tensor this[string name] => _tensors.TryGetValue(name, out var t)
        ? t
        : throw new KeyNotFoundException($"tensor '{name}' is missing from {Path}");

    /// <summary>The tensors as a state dict (the file keeps ownership).</summary>
    public IReadOnlyDictionary<string, Tensor> Tensors => _tensors;

    /// <summary>Opens <paramref name="jsonPath"/> (the index) and reads every tensor of its <c>.bin</c>.</summary>
    public static RawTensorFile Open(string jsonPath)
    {
        if (!File.Exists(jsonPath)) throw new FileNotFoundException($"tensor index not found: {jsonPath}", jsonPath);
        using var doc = JsonDocument.Parse(File.ReadAllBytes(jsonPath));
        var root = doc.RootElement;
        string dir = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(jsonPath))!;
        string binName = root.TryGetProperty("bin_file", out var bf) ? bf.GetString()! : System.IO.Path.ChangeExtension(System.IO.Path.GetFileName(jsonPath), ".bin");
        string binPath = System.IO.Path.Combine(dir, binName);
        if (!File.Exists(binPath)) throw new FileNotFoundException($"tensor data not found: {binPath}", binPath);
        byte[] bin = File.ReadAllBytes(binPath);
        if (root.TryGetProperty("bin_nbytes", out var nb) && nb.GetInt64() != bin.LongLength)
            throw new InvalidDataException($"{binPath} has {bin.LongLength} bytes, its index says {nb.GetInt64()}");

        var tensors = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var entry in root.GetProperty("tensors").EnumerateArray())
        {
            string name = entry.GetProperty("name").GetString()!;
            string dtype = entry.GetProperty("dtype").GetString()!;
            long[] shape = entry.GetProperty("shape").EnumerateArray().Select(e => e.GetInt64()).ToArray();
            long offset = entry.GetProperty("offset").GetInt64();
            long nbytes = entry.GetProperty("nbytes").GetInt64();
            long count = shape.Aggregate(1L, (a, b) => a * b);
            if (offset < 0 || offset + nbytes > bin.LongLength)
                throw new InvalidDataException($"tensor '{name}' lies outside {binPath}");
            var span = bin.AsSpan((int)offset, (int)nbytes);
            Tensor t = dtype switch
            {
                "float32" when nbytes == count * 4 => torch.tensor(System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(span).ToArray(), shape),
                "int64" when nbytes == count * 8 => torch.tensor(System.Runtime.InteropServices.MemoryMarshal.Cast<byte, long>(span).ToArray(), shape),
                "float32" or "int64" => throw new InvalidDataException($"tensor '{name}': {nbytes} bytes do not hold shape [{string.Join(",", shape)}] of {dtype}"),
                _ => throw new InvalidDataException($"tensor '{name}': unsupported dtype '{dtype}'"),
            };
            tensors[name] = t;
        }
        var meta = root.TryGetProperty("meta", out var m) ? m.Clone() : JsonDocument.Parse("{}").RootElement.Clone();
        return new RawTensorFile(jsonPath, meta, tensors);
    }

    public void Dispose()
    {
        foreach (var t in _tensors.Values) t.Dispose();
        _tensors.Clear();
    }
}
