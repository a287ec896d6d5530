using System.Globalization;
using System.Text.Json;
using YamlDotNet.RepresentationModel;

namespace DetailFlow.Cli;

/// <summary>
/// <c>--config FILE</c> support: a flat YAML or JSON mapping whose keys are a command's long option names without the
/// dashes (<c>batch-size: 16</c>). Each entry becomes <c>--key value</c> unless the command line gives that option
/// itself, so command-line values override the file. A file key the command does not know is reported by the parser
/// as an unrecognised option. Relative paths in the file are taken relative to the file's folder for keys listed in
/// <see cref="PathKeys"/>.
/// </summary>
public static class ConfigFileArguments
{
    public const string Option = "--config";

    /// <summary>Option names whose values are paths (resolved against the config file's folder).</summary>
    public static readonly IReadOnlySet<string> PathKeys = new HashSet<string>(StringComparer.Ordinal)
        { "data", "idx-images", "idx-labels", "out", "model-config", "codes", "tokenizer", "gpt", "perceptual-model" };

    public static string[] Expand(string[] args)
    {
        int at = Array.FindIndex(args, a => a == Option || a.StartsWith(Option + "=", StringComparison.Ordinal));
        if (at < 0) return args;
        string path = args[at].Contains('=') ? args[at][(Option.Length + 1)..]
            : at + 1 < args.Length ? args[at + 1] : throw new ArgumentException("--config needs a file path");
        var given = new HashSet<string>(args.Where(a => a.StartsWith("--", StringComparison.Ordinal)).Select(a => a.Split('=')[0]), StringComparer.Ordinal);
        var extra = new List<string>();
        string folder = Path.GetDirectoryName(Path.GetFullPath(path))!;
        foreach (var (key, value) in Read(path))
        {
            if (given.Contains("--" + key)) continue;
            extra.Add("--" + key);
            extra.Add(PathKeys.Contains(key) && !Path.IsPathRooted(value) ? Path.GetFullPath(Path.Combine(folder, value)) : value);
        }
        return [.. args, .. extra];
    }

    /// <summary>The scalar entries of a flat YAML (.yaml/.yml) or JSON (.json) mapping, in file order.</summary>
    public static IReadOnlyList<KeyValuePair<string, string>> Read(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"config file not found: {path}", path);
        string ext = Path.GetExtension(path).ToLowerInvariant();
        var result = new List<KeyValuePair<string, string>>();
        if (ext == ".json")
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(path));
            if (doc.RootElement.ValueKind != JsonValueKind.Object) throw new InvalidDataException($"{path}: expected a JSON object of option: value");
            foreach (var p in doc.RootElement.EnumerateObject())
            {
                string value = p.Value.ValueKind switch
                {
                    JsonValueKind.String => p.Value.GetString()!,
                    JsonValueKind.Number => p.Value.GetRawText(),
                    JsonValueKind.True => "true",
                    JsonValueKind.False => "false",
                    _ => throw new InvalidDataException($"{path}: option '{p.Name}' must be a string, number or boolean"),
                };
                result.Add(new(p.Name, value));
            }
            return result;
        }
        if (ext is not (".yaml" or ".yml")) throw new InvalidDataException($"{path}: config files must be .yaml, .yml or .json");
        var stream = new YamlStream();
        using (var reader = new StreamReader(path)) stream.Load(reader);
        if (stream.Documents.Count == 0) return result;
        if (stream.Documents[0].RootNode is not YamlMappingNode map) throw new InvalidDataException($"{path}: expected a YAML mapping of option: value");
        foreach (var (k, v) in map.Children)
        {
            if (k is not YamlScalarNode key || v is not YamlScalarNode val || key.Value is null)
                throw new InvalidDataException($"{path}: every entry must be 'option: value' (line {k.Start.Line})");
            string value = val.Value ?? "";
            if (value is "True" or "False") value = value.ToLower(CultureInfo.InvariantCulture);
            result.Add(new(key.Value, value));
        }
        return result;
    }
}
