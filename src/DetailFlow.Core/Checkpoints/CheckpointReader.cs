using System.Collections;
using TorchSharp;
using TorchSharp.PyBridge;
using static TorchSharp.torch;

namespace DetailFlow.Core.Checkpoints;

/// <summary>
/// Reads a state dict (name → tensor) from an official <c>.pt</c> (flat, or nested under
/// <c>model</c>/<c>ema</c>/<c>module</c>/<c>state_dict</c>), a <c>.safetensors</c> file, or the fixtures'
/// <c>weights.json</c>+<c>.bin</c> pair. The caller owns the returned tensors.
/// </summary>
public static class CheckpointReader
{
    private static readonly string[] NestedKeys = ["model", "ema", "module", "state_dict"];

    public static Dictionary<string, Tensor> Read(string path, CheckpointEntry entry)
    {
        string ext = System.IO.Path.GetExtension(RequireFile(path)).ToLowerInvariant();
        return ext switch
        {
            ".safetensors" => Safetensors.LoadStateDict(path),
            ".json" => ReadRaw(path),
            ".pt" or ".pth" or ".bin" or ".ckpt" => ReadPickle(path, entry),
            _ => throw new NotSupportedException(
                $"unknown checkpoint format '{ext}' for {path}: expected .pt/.pth (PyTorch), .safetensors or a fixture weights.json"),
        };
    }

    /// <summary><paramref name="path"/>, or the loaders' error when no such file exists.</summary>
    public static string RequireFile(string path) =>
        File.Exists(path) ? path : throw new FileNotFoundException($"checkpoint not found: {path}", path);

    /// <summary>The top-level keys of a pickled checkpoint and whether it is a flat state dict.</summary>
    public static (bool Flat, IReadOnlyList<string> Keys) Describe(string path)
    {
        using var stream = File.OpenRead(path);
        var root = PyTorchUnpickler.UnpickleStateDict(stream, leaveOpen: true, skipTensorRead: true);
        var keys = root.Keys.Cast<object>().Select(k => k.ToString()!).ToList();
        return (root.Values.Cast<object?>().All(v => v is Tensor), keys);
    }

    private static Dictionary<string, Tensor> ReadRaw(string jsonPath)
    {
        using var file = RawTensorFile.Open(jsonPath);
        return file.Tensors.ToDictionary(kv => kv.Key, kv => kv.Value.clone());
    }

    private static Dictionary<string, Tensor> ReadPickle(string path, CheckpointEntry entry)
    {
        Hashtable root = PyTorchUnpickler.UnpickleStateDict(path);
        bool flat = root.Count > 0 && root.Values.Cast<object?>().All(v => v is Tensor);
        Hashtable chosen = flat ? root : SelectEntry(root, entry, path);
        var result = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (DictionaryEntry kv in chosen)
        {
            if (kv.Value is Tensor t) result[kv.Key.ToString()!] = t;
            else throw new InvalidDataException($"{path}: entry '{kv.Key}' of the state dict is not a tensor ({kv.Value?.GetType().Name ?? "null"})");
        }
        // Free the tensors of the entries we did not take (e.g. 'model' when 'ema' was chosen).
        foreach (DictionaryEntry kv in root)
            if (!ReferenceEquals(kv.Value, chosen) && kv.Value is Hashtable other)
                foreach (var v in other.Values) (v as Tensor)?.Dispose();
        return result;
    }

    private static Hashtable SelectEntry(Hashtable root, CheckpointEntry entry, string path)
    {
        string[] order = entry switch
        {
            CheckpointEntry.Model => ["model"],
            CheckpointEntry.Ema => ["ema"],
            _ => ["model", "module", "state_dict"],
        };
        foreach (var key in order)
            if (root[key] is Hashtable h) return h;
        var present = root.Keys.Cast<object>().Select(k => k.ToString()).Where(k => NestedKeys.Contains(k));
        throw new InvalidDataException(
            $"{path}: nested checkpoint has no '{string.Join("'/'", order)}' state dict (it has: {string.Join(", ", present.DefaultIfEmpty("none"))})");
    }
}
