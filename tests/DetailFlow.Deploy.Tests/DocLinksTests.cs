using System.Text.RegularExpressions;

namespace DetailFlow.Deploy.Tests;

/// <summary>
/// The README and docs/*.md cite only files that exist: every relative link, every backticked repository path
/// (<c>src/…</c>, <c>tests/…</c>, …; a <c>*</c> matches within one name) and every backticked <c>Folder/File.cs</c>
/// (some file of the repository ends with it). Fenced code blocks are examples, not citations, and are skipped.
/// </summary>
public sealed partial class DocLinksTests
{
    public const int ReadmeMaxLines = 150;

    /// <summary>Paths the docs name as what a reader creates (downloads, converted models), not as repository files.</summary>
    private static readonly string[] CreatedByTheReader = ["models/inception/", "models/detailflow-16", "models/official-16"];

    public static TheoryData<string> Documents()
    {
        var data = new TheoryData<string> { "README.md" };
        foreach (var file in Directory.GetFiles(Repo.PathOf("docs"), "*.md").Order())
            data.Add("docs/" + Path.GetFileName(file));
        return data;
    }

    [Fact]
    public void Readme_IsShort()
    {
        int lines = File.ReadAllLines(Repo.PathOf("README.md")).Length;
        Assert.True(lines <= ReadmeMaxLines, $"README.md has {lines} lines (at most {ReadmeMaxLines}; details go to docs/)");
    }

    [Theory]
    [MemberData(nameof(Documents))]
    public void RelativeLinks_Exist(string document)
    {
        string folder = Path.GetDirectoryName(Repo.PathOf(document))!;
        var missing = LinkTargets(Prose(document))
            .Where(target => !Exists(Path.GetFullPath(Path.Combine(folder, target))))
            .ToList();
        Assert.True(missing.Count == 0, $"{document} links to missing files: {string.Join(", ", missing)}");
    }

    [Theory]
    [MemberData(nameof(Documents))]
    public void BacktickedPaths_Exist(string document)
    {
        var missing = CitedPaths(Prose(document))
            .Where(path => !CreatedByTheReader.Any(path.StartsWith))
            .Where(path => !ExistsInRepo(path))
            .Distinct()
            .ToList();
        Assert.True(missing.Count == 0, $"{document} cites missing paths: {string.Join(", ", missing)}");
    }

    [Fact]
    public void TheCheck_FindsAMissingPath()
    {
        const string text = "See `src/DetailFlow.Core/NoSuch.cs`, `Training/StepGcGuard.cs` and [x](docs/no-such.md).\n```\nsrc/ignored\n```";
        Assert.Equal(["src/DetailFlow.Core/NoSuch.cs", "Training/StepGcGuard.cs"], CitedPaths(StripFences(text)).Where(p => !ExistsInRepo(p)));
        Assert.Equal(["docs/no-such.md"], LinkTargets(StripFences(text)));
        Assert.True(ExistsInRepo("src/DetailFlow.Cli/Commands/Bench*.cs"));
    }

    /// <summary>The document without its fenced code blocks.</summary>
    private static string Prose(string document) => StripFences(Repo.Read(document));

    private static string StripFences(string text) => FencedBlock().Replace(text, "");

    /// <summary>Relative link targets, without their <c>#anchor</c>; web, mail and same-page links are left out.</summary>
    private static IEnumerable<string> LinkTargets(string text) =>
        MarkdownLink().Matches(text).Select(m => m.Groups["target"].Value.Split('#')[0])
            .Where(t => t.Length > 0 && !t.Contains("://") && !t.StartsWith("mailto:", StringComparison.Ordinal));

    /// <summary>Repository paths and <c>Folder/File.cs</c> names inside inline code spans.</summary>
    private static IEnumerable<string> CitedPaths(string text) =>
        CodeSpan().Matches(text).SelectMany(span => RepoPath().Matches(span.Groups["code"].Value))
            .Select(m => m.Value.TrimEnd('.', ':', ','));

    private static bool ExistsInRepo(string path)
    {
        if (!Rooted().IsMatch(path))   // Folder/File.cs: some file of the repository ends with it
            return RepoFiles.Value.Any(f => f.EndsWith("/" + path, StringComparison.Ordinal));
        if (!path.Contains('*')) return Exists(Repo.PathOf(path.TrimEnd('/')));
        var glob = new Regex("^" + Regex.Escape(path).Replace(@"\*", "[^/]*") + "$");
        return RepoFiles.Value.Any(glob.IsMatch);
    }

    private static bool Exists(string fullPath) => File.Exists(fullPath) || Directory.Exists(fullPath);

    private static readonly Lazy<List<string>> RepoFiles = new(() =>
        Directory.EnumerateFiles(Repo.Root, "*", SearchOption.AllDirectories)
            .Select(f => Path.GetRelativePath(Repo.Root, f).Replace('\\', '/'))
            .Where(f => !f.Split('/').Any(part => part is ".git" or "bin" or "obj" or "node_modules" or "TestResults"))
            .ToList());

    [GeneratedRegex(@"^(```|~~~).*?^\1[ \t]*$", RegexOptions.Multiline | RegexOptions.Singleline)]
    private static partial Regex FencedBlock();

    [GeneratedRegex(@"(?<!`)`(?<code>[^`\n]+)`")]
    private static partial Regex CodeSpan();

    [GeneratedRegex(@"\]\((?<target>[^)\s]+)(\s+""[^""]*"")?\)")]
    private static partial Regex MarkdownLink();

    /// <summary>A path under one of the repository's top folders, or a relative <c>Folder/…/File.cs</c>.</summary>
    [GeneratedRegex(@"(?<![\w./-])(?:(?:src|tests|models|docs|configs|deploy|build)/[\w.*/-]*[\w*/]|(?:[A-Z]\w*/)+\w+\.cs\b)")]
    private static partial Regex RepoPath();

    [GeneratedRegex(@"^(src|tests|models|docs|configs|deploy|build)/")]
    private static partial Regex Rooted();
}
