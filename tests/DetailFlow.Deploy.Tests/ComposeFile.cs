using YamlDotNet.RepresentationModel;

namespace DetailFlow.Deploy.Tests;

/// <summary>docker-compose.yml read with YamlDotNet (anchors and aliases resolved): services, their environment, ports, profiles.</summary>
public sealed class ComposeFile
{
    public YamlMappingNode Root { get; }

    public ComposeFile(string text)
    {
        var stream = new YamlStream();
        stream.Load(new StringReader(text));
        Root = (YamlMappingNode)Assert.Single(stream.Documents).RootNode;
    }

    public static ComposeFile Load() => new(Repo.Read("docker-compose.yml"));

    public IReadOnlyDictionary<string, YamlMappingNode> Services =>
        ((YamlMappingNode)Root["services"]).Children.ToDictionary(kv => ((YamlScalarNode)kv.Key).Value!, kv => (YamlMappingNode)kv.Value);

    public static YamlNode? Get(YamlMappingNode map, string key) => map.Children.TryGetValue(new YamlScalarNode(key), out var v) ? v : null;

    public static string? Scalar(YamlNode? node) => (node as YamlScalarNode)?.Value;

    /// <summary>The service's environment (mapping or KEY=value list form).</summary>
    public static Dictionary<string, string> Environment(YamlMappingNode service) => Get(service, "environment") switch
    {
        YamlMappingNode map => map.Children.ToDictionary(kv => Scalar(kv.Key)!, kv => Scalar(kv.Value) ?? ""),
        YamlSequenceNode list => list.Children.Select(n => Scalar(n)!.Split('=', 2)).ToDictionary(p => p[0], p => p.Length > 1 ? p[1] : ""),
        _ => [],
    };

    /// <summary>Published ports as (host, container) from the short "host:container" syntax.</summary>
    public static List<(string Host, string Container)> Ports(YamlMappingNode service) =>
        (Get(service, "ports") as YamlSequenceNode)?.Children.Select(n =>
        {
            var parts = Scalar(n)!.Split('/')[0].Split(':');
            return (parts.Length > 1 ? parts[^2] : parts[0], parts[^1]);
        }).ToList() ?? [];

    public static string[] Profiles(YamlMappingNode service) =>
        (Get(service, "profiles") as YamlSequenceNode)?.Children.Select(n => Scalar(n)!).ToArray() ?? [];

    /// <summary>Services that run this repository's image (built from the repository root).</summary>
    public IEnumerable<(string Name, YamlMappingNode Service)> ApiServices() => Services
        .Where(s => Get(s.Value, "build") is YamlMappingNode build && Scalar(Get(build, "context")) == ".")
        .Select(s => (s.Key, s.Value));

    /// <summary>Services started under <paramref name="profile"/> (those without profiles always start).</summary>
    public IEnumerable<string> StartedWith(string? profile) =>
        Services.Where(s => Profiles(s.Value) is var p && (p.Length == 0 || (profile is not null && p.Contains(profile)))).Select(s => s.Key);
}
