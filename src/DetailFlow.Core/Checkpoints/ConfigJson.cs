using System.Text.Json;
using System.Text.Json.Serialization;
using YamlDotNet.RepresentationModel;

namespace DetailFlow.Core.Checkpoints;

/// <summary>
/// Reading and writing model configs. Field names are the official <c>ModelArgs</c> names (snake_case), so an
/// official <c>config.json</c> and the one <c>detailflow convert</c> writes share one schema.
/// </summary>
public static class ConfigJson
{
    public static readonly JsonSerializerOptions Options = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = true,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
    };

    public static T Read<T>(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"model config not found: {path}", path);
        try
        {
            return JsonSerializer.Deserialize<T>(File.ReadAllText(path), Options)
                   ?? throw new InvalidDataException($"{path}: empty config");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: invalid config JSON: {e.Message}", e);
        }
    }

    public static void Write<T>(string path, T value) => File.WriteAllText(path, JsonSerializer.Serialize(value, Options));

    /// <summary>
    /// The config files of a checkpoint as the official loaders find them: <c>config.json</c>/<c>config.yaml</c> two
    /// folders above the <c>.pt</c> (<c>checkpoints/N.pt</c> → <c>../../</c>), else next to it. Null when absent.
    /// </summary>
    public static string? FindBeside(string checkpointPath, string fileName)
    {
        var dir = new FileInfo(checkpointPath).Directory;
        string? grand = dir?.Parent?.FullName;
        foreach (var candidate in new[] { grand, dir?.FullName })
        {
            if (candidate is null) continue;
            string p = Path.Combine(candidate, fileName);
            if (File.Exists(p)) return p;
        }
        return null;
    }

    /// <summary>
    /// The config of a checkpoint: <c>&lt;stem&gt;.json</c> beside it (what <c>detailflow convert</c> writes:
    /// <c>gpt.safetensors</c> + <c>gpt.json</c>), else the official <c>config.json</c> (<see cref="FindBeside"/>).
    /// </summary>
    public static string? FindConfigJson(string checkpointPath)
    {
        string stemJson = Path.ChangeExtension(checkpointPath, ".json");
        if (!string.Equals(Path.GetExtension(checkpointPath), ".json", StringComparison.OrdinalIgnoreCase) && File.Exists(stemJson))
            return stemJson;
        return FindBeside(checkpointPath, "config.json");
    }

    /// <summary>The official <c>config.yaml</c> beside an official <c>config.json</c>; null for our own configs.</summary>
    public static string? OfficialYamlFor(string configJsonPath)
    {
        if (!string.Equals(Path.GetFileName(configJsonPath), "config.json", StringComparison.Ordinal)) return null;
        string yaml = Path.Combine(Path.GetDirectoryName(configJsonPath)!, "config.yaml");
        return File.Exists(yaml) ? yaml : null;
    }

    /// <summary>Top-level scalar entries of an argparse-dump <c>config.yaml</c> (the only shape the loaders read).</summary>
    public static IReadOnlyDictionary<string, string> ReadYamlScalars(string path)
    {
        var stream = new YamlStream();
        using (var reader = new StreamReader(path)) stream.Load(reader);
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        if (stream.Documents.Count == 0 || stream.Documents[0].RootNode is not YamlMappingNode map) return result;
        foreach (var (k, v) in map.Children)
            if (k is YamlScalarNode key && v is YamlScalarNode val && key.Value is not null)
                result[key.Value] = val.Value ?? "";
        return result;
    }
}
