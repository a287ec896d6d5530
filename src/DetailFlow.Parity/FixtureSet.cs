using System.Text.Json;
using DetailFlow.Core.Checkpoints;

namespace DetailFlow.Parity;

/// <summary>
/// A fixtures folder in the format of <c>shared/fixtures/detailflow/README.md</c>: model folders <c>gpt_&lt;tag&gt;/</c>
/// and one <c>vq_&lt;tag&gt;/</c> (each with <c>state_dict.pt</c>, <c>checkpoint.pt</c>, <c>weights.json/.bin</c>,
/// <c>config.json</c>), and <c>cases/</c> (<c>&lt;name&gt;.json/.bin</c> and <c>resolution_tables.json</c>).
/// Everything is discovered from the folder, nothing from constants.
/// </summary>
public sealed class FixtureSet
{
    public FixtureSet(string root)
    {
        Root = Path.GetFullPath(root);
        if (!Directory.Exists(Root)) throw new DirectoryNotFoundException($"fixtures folder not found: {Root}");
        CasesDir = Path.Combine(Root, "cases");
        if (!Directory.Exists(CasesDir)) throw new DirectoryNotFoundException($"fixtures folder has no cases/: {Root}");
        GptTags = Directory.GetDirectories(Root, "gpt_*").Select(d => Path.GetFileName(d)["gpt_".Length..]).Order(StringComparer.Ordinal).ToList();
        VqTags = Directory.GetDirectories(Root, "vq_*").Select(d => Path.GetFileName(d)["vq_".Length..]).Order(StringComparer.Ordinal).ToList();
    }

    public string Root { get; }
    public string CasesDir { get; }
    public IReadOnlyList<string> GptTags { get; }
    public IReadOnlyList<string> VqTags { get; }

    /// <summary>The single tokenizer tag (the README promises exactly one <c>vq_&lt;tag&gt;/</c>).</summary>
    public string VqTag => VqTags.Count == 1 ? VqTags[0]
        : throw new InvalidDataException($"{Root}: expected exactly one vq_<tag>/ folder, found {VqTags.Count}");

    public string GptDir(string tag) => Path.Combine(Root, "gpt_" + tag);
    public string VqDir(string tag) => Path.Combine(Root, "vq_" + tag);

    /// <summary>Case names: every <c>cases/*.json</c> (the binary cases and the plain <c>resolution_tables</c>).</summary>
    public IReadOnlyList<string> CaseNames => Directory.GetFiles(CasesDir, "*.json")
        .Select(f => Path.GetFileNameWithoutExtension(f)!).Order(StringComparer.Ordinal).ToList();

    public RawTensorFile OpenCase(string name) => RawTensorFile.Open(Path.Combine(CasesDir, name + ".json"));

    public JsonDocument ReadJson(string name) => JsonDocument.Parse(File.ReadAllBytes(Path.Combine(CasesDir, name + ".json")));

    /// <summary>
    /// The GPT tag a case names: <c>meta.model</c> when present, else the longest known tag that follows
    /// <paramref name="prefix"/> in the case name (tags may contain underscores).
    /// </summary>
    public string GptTagOf(string caseName, string prefix, JsonElement meta)
    {
        if (meta.ValueKind == JsonValueKind.Object && meta.TryGetProperty("model", out var m) && m.GetString() is { } tag
            && GptTags.Contains(tag)) return tag;
        string rest = caseName.StartsWith(prefix, StringComparison.Ordinal) ? caseName[prefix.Length..] : caseName;
        return GptTags.Where(t => rest == t || rest.StartsWith(t + "_", StringComparison.Ordinal)).MaxBy(t => t.Length)
               ?? throw new InvalidDataException($"case {caseName}: no gpt_<tag>/ folder matches (known: {string.Join(", ", GptTags)})");
    }
}
