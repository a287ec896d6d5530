using System.Text.Json;

namespace DetailFlow.Deploy.Tests;

/// <summary>The repository's appsettings.json as configuration sees it: keys are case-insensitive, "__" in an environment name is ":".</summary>
public static class AppSettings
{
    private static readonly JsonElement Root = JsonDocument.Parse(Repo.Read("appsettings.json"),
        new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip }).RootElement;

    /// <summary>Whether the environment variable <paramref name="name"/> (Section__Key__...) names an existing key path.</summary>
    public static bool Has(string name)
    {
        var node = Root;
        foreach (var segment in name.Split("__"))
        {
            if (node.ValueKind == JsonValueKind.Array && int.TryParse(segment, out _)) return true;   // an element of a list setting
            if (node.ValueKind != JsonValueKind.Object) return false;
            var match = node.EnumerateObject().FirstOrDefault(p => string.Equals(p.Name, segment, StringComparison.OrdinalIgnoreCase));
            if (match.Value.ValueKind == JsonValueKind.Undefined) return false;
            node = match.Value;
        }
        return node.ValueKind is not (JsonValueKind.Object or JsonValueKind.Array);   // a value, not a whole section
    }

    /// <summary>The value at a configuration path (Section:Key).</summary>
    public static string Value(string path) =>
        path.Split(':').Aggregate(Root, (node, key) => node.GetProperty(key)).ToString();
}
