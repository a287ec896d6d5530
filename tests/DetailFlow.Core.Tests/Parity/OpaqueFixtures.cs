using System.Text.Json;
using System.Text.Json.Nodes;

namespace DetailFlow.Core.Tests.Parity;

/// <summary>
/// A copy of the shared fixtures folder in which no tag says anything of its parameters: model folders, case names,
/// rotary/mask table tags, x/z mask names and resolution-table configurations are renamed to opaque names (tensor
/// names and <c>meta</c> rewritten accordingly), and one rotary entry keeps only its recorded <c>call</c>.
/// </summary>
internal sealed class OpaqueFixtures : IDisposable
{
    private static readonly Dictionary<string, string> ModelTags = new() { ["tiny_c4"] = "ka", ["tiny_c8"] = "kb" };

    private static readonly Dictionary<string, string> TableTags = new()
    {
        ["tiny_c4"] = "ra", ["tiny_c8"] = "rb", ["gptl_b128"] = "rc", ["gptl_b256"] = "rd", ["gptl_b512"] = "re",
    };

    public OpaqueFixtures(Action<JsonObject>? editRopeMeta = null)
    {
        Root = Directory.CreateTempSubdirectory("df-opaque-").FullName;
        var source = TestFixtures.Root;
        foreach (var dir in Directory.GetDirectories(source))
        {
            string name = Path.GetFileName(dir);
            if (name == "cases") continue;
            string renamed = name.StartsWith("vq_", StringComparison.Ordinal) ? "vq_kv" : "gpt_" + ModelTags[name["gpt_".Length..]];
            CopyFolder(dir, Path.Combine(Root, renamed));
        }
        Directory.CreateDirectory(Path.Combine(Root, "cases"));
        foreach (var json in Directory.GetFiles(Path.Combine(source, "cases"), "*.json"))
            CopyCase(json, editRopeMeta);
    }

    public string Root { get; }

    public void Dispose() => Directory.Delete(Root, recursive: true);

    private void CopyCase(string json, Action<JsonObject>? editRopeMeta)
    {
        string name = Path.GetFileNameWithoutExtension(json);
        var doc = JsonNode.Parse(File.ReadAllText(json))!.AsObject();
        string renamed = name;
        foreach (var (tag, opaque) in ModelTags) renamed = renamed.Replace("_" + tag, "_" + opaque, StringComparison.Ordinal);
        if (name == "resolution_tables")
            doc["configs"] = new JsonObject(doc["configs"]!.AsObject().Select((kv, i) =>
                KeyValuePair.Create("cfg" + (char)('a' + i), kv.Value?.DeepClone())));
        else
        {
            var meta = doc["meta"]!.AsObject();
            if (meta["model"]?.GetValue<string>() is { } model) meta["model"] = ModelTags[model];
            var tensorNames = name switch
            {
                "gpt_rope_and_mask" => RenameTables(meta),
                "xz_attention_masks" => RenameMasks(meta),
                _ => new Dictionary<string, string>(),
            };
            if (name == "gpt_rope_and_mask") editRopeMeta?.Invoke(meta);
            foreach (var tensor in doc["tensors"]!.AsArray())
                if (tensorNames.TryGetValue(tensor!["name"]!.GetValue<string>(), out var newName)) tensor["name"] = newName;
            string bin = doc["bin_file"]!.GetValue<string>();
            File.Copy(Path.Combine(Path.GetDirectoryName(json)!, bin), Path.Combine(Root, "cases", renamed + ".bin"));
            doc["bin_file"] = renamed + ".bin";
        }
        File.WriteAllText(Path.Combine(Root, "cases", renamed + ".json"), doc.ToJsonString());
    }

    /// <summary>Opaque table tags; the rotary-only entry "rd" is left with nothing but its call.</summary>
    private static Dictionary<string, string> RenameTables(JsonObject meta)
    {
        var names = new Dictionary<string, string>();
        foreach (var entry in meta["tables"]!.AsArray().Select(e => e!.AsObject()))
        {
            string tag = entry["tag"]!.GetValue<string>();
            string first = tag.Split(' ')[0];
            string opaque = TableTags[first];
            entry["tag"] = opaque + tag[first.Length..];
            foreach (var suffix in new[] { "_freqs_cis", "_group_causal_mask" }) names[first + suffix] = opaque + suffix;
            if (opaque == "rd")
                foreach (var key in entry.Select(kv => kv.Key).Where(k => k is not "tag" and not "call").ToList()) entry.Remove(key);
        }
        return names;
    }

    private static Dictionary<string, string> RenameMasks(JsonObject meta)
    {
        var names = new Dictionary<string, string>();
        int i = 0;
        foreach (var entry in meta["masks"]!.AsArray().Select(e => e!.AsObject()))
        {
            string name = entry["name"]!.GetValue<string>();
            string opaque = "xz" + i++;
            entry["name"] = opaque;
            names[name] = opaque;
            names[name + "_additive_f32"] = opaque + "_additive_f32";
        }
        return names;
    }

    private static void CopyFolder(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var file in Directory.GetFiles(from)) File.Copy(file, Path.Combine(to, Path.GetFileName(file)));
    }

    public static JsonObject Table(JsonObject meta, string tag) =>
        meta["tables"]!.AsArray().Select(e => e!.AsObject()).Single(e => e["tag"]!.GetValue<string>() == tag);
}
