using TorchSharp;
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
        ignore ??= IsTrainingOnly;
        var target = module.state_dict();
        var missing = target.Keys.Where(k => !ignore(k) && !stateDict.ContainsKey(k)).ToList();
        var unexpected = stateDict.Keys.Where(k => !ignore(k) && !target.ContainsKey(k)).ToList();
        var misShaped = target.Where(kv => stateDict.TryGetValue(kv.Key, out var src)
                && !src.shape.SequenceEqual(kv.Value.shape))
            .Select(kv => $"{kv.Key}: checkpoint [{string.Join(", ", stateDict[kv.Key].shape)}], model [{string.Join(", ", kv.Value.shape)}]")
            .ToList();
        if (missing.Count + unexpected.Count + misShaped.Count > 0)
            throw new CheckpointMismatchException(source, missing, unexpected, misShaped);

        using var _ = torch.no_grad();
        foreach (var (key, dst) in target)
        {
            if (stateDict.TryGetValue(key, out var src)) dst.copy_(src);
        }
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
