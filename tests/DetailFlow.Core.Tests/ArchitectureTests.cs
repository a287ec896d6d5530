using System.Xml.Linq;
using DetailFlow.Core.Gpt;

namespace DetailFlow.Core.Tests;

/// <summary>
/// Dependencies run one way (developers' rules): Core is model math and references nothing of ours; Training and the
/// fixture checker (Parity) build on Core only; the hosts (Api, Cli) on Core, Training and, for the CLI, Parity.
/// Checked on the project files, so every project of <c>src/</c> is covered, including one added later.
/// </summary>
public class ArchitectureTests
{
    private static readonly Dictionary<string, string[]> Allowed = new()
    {
        ["DetailFlow.Core"] = [],
        ["DetailFlow.Training"] = ["DetailFlow.Core"],
        ["DetailFlow.Parity"] = ["DetailFlow.Core"],
        ["DetailFlow.Api"] = ["DetailFlow.Core", "DetailFlow.Training"],
        ["DetailFlow.Cli"] = ["DetailFlow.Core", "DetailFlow.Training", "DetailFlow.Parity"],
    };

    public static TheoryData<string> SourceProjects() => new(Directory.GetDirectories(Path.Combine(RepoRoot, "src")).Select(Path.GetFileName)!);

    [Theory]
    [MemberData(nameof(SourceProjects))]
    public void EveryProjectReferencesOnlyWhatItsLayerAllows(string project)
    {
        Assert.True(Allowed.TryGetValue(project, out var allowed), $"{project} has no declared place in the dependency rules");
        var references = ProjectReferences(project);
        Assert.All(references, r => Assert.True(allowed.Contains(r), $"{project} must not reference {r} (allowed: {string.Join(", ", allowed)})"));
    }

    [Fact]
    public void EveryProjectIsInTheSolution()
    {
        string solution = File.ReadAllText(Path.Combine(RepoRoot, "DetailFlow.Api.sln"));
        var projects = Directory.GetFiles(Path.Combine(RepoRoot, "src"), "*.csproj", SearchOption.AllDirectories)
            .Concat(Directory.GetFiles(Path.Combine(RepoRoot, "tests"), "*.csproj", SearchOption.AllDirectories))
            .Select(p => Path.GetRelativePath(RepoRoot, p).Replace('/', '\\'));
        Assert.All(projects, p => Assert.Contains($"\"{p}\"", solution));
    }

    [Fact]
    public void CoreReferencesNoWebConsoleCacheOrOwnAssemblies()
    {
        var forbidden = new[] { "DetailFlow.", "Microsoft.AspNetCore", "StackExchange.Redis", "Spectre.", "System.CommandLine", "Microsoft.Extensions.Logging" };
        var references = typeof(GptTransformer).Assembly.GetReferencedAssemblies().Select(a => a.Name!).ToList();
        Assert.Contains("TorchSharp", references);
        Assert.DoesNotContain(references, r => forbidden.Any(f => r.StartsWith(f, StringComparison.Ordinal)));
    }

    private static List<string> ProjectReferences(string project) =>
        XDocument.Load(Path.Combine(RepoRoot, "src", project, project + ".csproj"))
            .Descendants("ProjectReference")
            .Select(e => Path.GetFileNameWithoutExtension(e.Attribute("Include")!.Value.Replace('\\', '/')))
            .ToList();

    private static string RepoRoot { get; } = FindRoot();

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "DetailFlow.Api.sln"))) return dir.FullName;
        throw new DirectoryNotFoundException("DetailFlow.Api.sln not found above " + AppContext.BaseDirectory);
    }
}
