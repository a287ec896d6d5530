using TorchSharp;
using TorchSharp.PyBridge;
using static TorchSharp.torch;

namespace DetailFlow.Core.Checkpoints;

/// <summary>
/// Strict key-for-key loading (nanoGPT's <c>from_pretrained</c> rule): training-only keys are dropped by one explicit
/// rule list; every other missing, unexpected or mis-shaped key is collected and reported in one exception.
/// </summary>
public static class StateDictLoader
{
    /// <summary>Keys the official checkpoints carry that inference never uses (spec §3.1, §12 item 19).</summary>
    public static readonly IReadOnlyList<string> TrainingOnlyPrefixes =
        ["repa_model.", "global_token_proj.", "quantize.codebook_used", "refine_conv.", "encoder.refined_tokens"];

    public static bool IsTrainingOnly(string key) => TrainingOnlyPrefixes.Any(key.StartsWith);

    /// <summary>
    /// Copies <paramref name="stateDict"/> into <paramref name="module"/>'s parameters and buffers (converting dtype).
    /// Keys matching <paramref name="ignore"/> (default: <see cref="IsTrainingOnly"/>) are never reported missing or
    /// unexpected; they are still copied when both sides have them (training modules carry them), shape-checked.
    /// </summary>
    public static void Load(nn.Module module, IReadOnlyDictionary<string, Tensor> stateDict, string source,
        Func<string, bool>? ignore = null)
    {
        var target = module.state_dict();
        Check(target, stateDict.ToDictionary(kv => kv.Key, kv => kv.Value.shape), source, ignore ?? IsTrainingOnly);
        using var _ = torch.no_grad();
        foreach (var (key, dst) in target)
        {
            if (stateDict.TryGetValue(key, out var src)) dst.copy_(src);
        }
    }

    /// <summary>
    /// <see cref="Load(nn.Module, IReadOnlyDictionary{string, Tensor}, string, Func{string, bool}?)"/> from a checkpoint
    /// file. A <c>.safetensors</c> file is checked against its header, then read about <paramref name="chunkBytes"/> at a
    /// time, only the tensors the module has: loading then holds the module and one chunk, not a second copy of every
    /// weight (a tokenizer's decoder skips its encoder's bytes). Other formats are read whole.
    /// </summary>
    public static void LoadFile(nn.Module module, string path, CheckpointEntry entry, Func<string, bool>? ignore = null,
        long chunkBytes = DefaultChunkBytes)
    {
        if (chunkBytes <= 0) throw new ArgumentOutOfRangeException(nameof(chunkBytes), chunkBytes, "the chunk must hold some bytes");
        if (!CheckpointReader.RequireFile(path).EndsWith(".safetensors", StringComparison.OrdinalIgnoreCase))
        {
            var all = CheckpointReader.Read(path, entry);
            try { Load(module, all, path, ignore); }
            finally { foreach (var t in all.Values) t.Dispose(); }
            return;
        }

        var header = SafetensorsHeader.Read(path);
        var target = module.state_dict();
        Check(target, header.ToDictionary(kv => kv.Key, kv => kv.Value.Shape), path, ignore ?? IsTrainingOnly);
        using var _ = torch.no_grad();
        foreach (var chunk in Chunks(target.Keys.Where(header.ContainsKey), k => header[k].Bytes, chunkBytes))
        {
            var part = Safetensors.LoadStateDict(path, chunk);
            try
            {
                foreach (var (key, src) in part) target[key].copy_(src);
            }
            finally { foreach (var t in part.Values) t.Dispose(); }
        }
    }

    /// <summary>Bytes of checkpoint tensors <see cref="LoadFile"/> holds at once (one larger tensor is read alone).</summary>
    public const long DefaultChunkBytes = 64L << 20;

    private static IEnumerable<List<string>> Chunks(IEnumerable<string> keys, Func<string, long> bytes, long chunkBytes)
    {
        var chunk = new List<string>();
        long held = 0;
        foreach (var key in keys)
        {
            if (chunk.Count > 0 && held + bytes(key) > chunkBytes)
            {
                yield return chunk;
                (chunk, held) = ([], 0);
            }
            chunk.Add(key);
            held += bytes(key);
        }
        if (chunk.Count > 0) yield return chunk;
    }

    private static void Check(IReadOnlyDictionary<string, Tensor> target, IReadOnlyDictionary<string, long[]> shapes, string source,
        Func<string, bool> ignore)
    {
        var missing = target.Keys.Where(k => !ignore(k) && !shapes.ContainsKey(k)).ToList();
        var unexpected = shapes.Keys.Where(k => !ignore(k) && !target.ContainsKey(k)).ToList();
        var misShaped = target.Where(kv => shapes.TryGetValue(kv.Key, out var shape) && !shape.SequenceEqual(kv.Value.shape))
            .Select(kv => $"{kv.Key}: checkpoint [{string.Join(", ", shapes[kv.Key])}], model [{string.Join(", ", kv.Value.shape)}]")
            .ToList();
        if (missing.Count + unexpected.Count + misShaped.Count > 0)
            throw new CheckpointMismatchException(source, missing, unexpected, misShaped);
    }
}

/// <summary>A checkpoint that does not fit the model; the message names every offending key.</summary>
public sealed class CheckpointMismatchException(string source, IReadOnlyList<string> missing,
    IReadOnlyList<string> unexpected, IReadOnlyList<string> misShaped) : Exception(Format(source, missing, unexpected, misShaped))
{
    public IReadOnlyList<string> Missing { get; } = missing;
    public IReadOnlyList<string> Unexpected { get; } = unexpected;
    public IReadOnlyList<string> MisShaped { get; } = misShaped;

    private static string Format(string source, IReadOnlyList<string> missing, IReadOnlyList<string> unexpected,
        IReadOnlyList<string> misShaped)
    {
        var parts = new List<string>();
        if (missing.Count > 0) parts.Add($"missing keys ({missing.Count}): {string.Join(", ", missing)}");
        if (unexpected.Count > 0) parts.Add($"unexpected keys ({unexpected.Count}): {string.Join(", ", unexpected)}");
        if (misShaped.Count > 0) parts.Add($"wrong shapes ({misShaped.Count}): {string.Join("; ", misShaped)}");
        return $"checkpoint {source} does not match the model: {string.Join(" | ", parts)}";
    }
}
