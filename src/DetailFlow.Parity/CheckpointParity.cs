using DetailFlow.Core.Checkpoints;
using static TorchSharp.torch;

namespace DetailFlow.Parity;

/// <summary>
/// A model folder's three copies of one state dict — flat <c>state_dict.pt</c>, nested <c>checkpoint.pt</c>
/// (<c>model</c> for the tokenizer, <c>ema</c> for the GPT, as the official loaders read them) and the pickle-free
/// <c>weights.json</c> — must read back bit-identical, and must load strictly into the port's module.
/// </summary>
public static class CheckpointParity
{
    public static void CheckGpt(string dir, ParityReport report) => Check(dir, CheckpointEntry.Ema, report);

    public static void CheckTokenizer(string dir, ParityReport report) => Check(dir, CheckpointEntry.Model, report);

    private static void Check(string dir, CheckpointEntry entry, ParityReport report)
    {
        var reference = CheckpointReader.Read(Path.Combine(dir, "weights.json"), entry);
        foreach (var file in new[] { "state_dict.pt", "checkpoint.pt" })
        {
            var other = CheckpointReader.Read(Path.Combine(dir, file), entry);
            report.Equal($"{file} key set", string.Join(",", other.Keys.Order(StringComparer.Ordinal)),
                string.Join(",", reference.Keys.Order(StringComparer.Ordinal)));
            foreach (var (key, expected) in reference)
                if (other.TryGetValue(key, out var actual))
                    report.Exact($"{file}:{key}", actual, expected);
            foreach (var t in other.Values) t.Dispose();
        }
        foreach (var t in reference.Values) t.Dispose();
    }
}
