using System.Text.RegularExpressions;

namespace DetailFlow.Deploy.Tests;

/// <summary>
/// A Dockerfile read into instructions (continuation lines joined, comments dropped), enough for static checks:
/// stages, <c>COPY</c> sources, <c>ENV</c> pairs.
/// </summary>
public sealed partial class Dockerfile
{
    public sealed record Instruction(string Keyword, string Arguments, string Stage);

    public IReadOnlyList<Instruction> Instructions { get; }

    public Dockerfile(string text)
    {
        var list = new List<Instruction>();
        string stage = "", pending = "";
        foreach (var raw in text.Split('\n'))
        {
            var line = raw.TrimEnd('\r');
            if (line.TrimStart().StartsWith('#')) continue;   // comments (also inside a continued instruction)
            if (line.EndsWith('\\')) { pending += line[..^1] + " "; continue; }
            var full = (pending + line).Trim();
            pending = "";
            if (full.Length == 0) continue;
            int space = full.IndexOf(' ');
            string keyword = (space < 0 ? full : full[..space]).ToUpperInvariant(), args = space < 0 ? "" : full[(space + 1)..].Trim();
            if (keyword == "FROM") stage = AsStage().Match(args) is { Success: true } m ? m.Groups[1].Value : args;
            list.Add(new Instruction(keyword, args, stage));
        }
        Instructions = list;
    }

    public IEnumerable<Instruction> Named(string keyword) => Instructions.Where(i => i.Keyword == keyword);

    /// <summary>Build-context sources of every <c>COPY</c>/<c>ADD</c> without <c>--from</c>: (sources, destination).</summary>
    public IEnumerable<(string[] Sources, string Destination)> ContextCopies()
    {
        foreach (var i in Instructions.Where(i => i.Keyword is "COPY" or "ADD"))
        {
            var words = i.Arguments.Split(' ', StringSplitOptions.RemoveEmptyEntries).ToList();
            if (words.Any(w => w.StartsWith("--from=", StringComparison.Ordinal))) continue;
            words.RemoveAll(w => w.StartsWith("--", StringComparison.Ordinal));
            yield return (words.Take(words.Count - 1).ToArray(), words[^1]);
        }
    }

    /// <summary>Every <c>ENV</c> pair (the <c>KEY=value</c> form, several per instruction), with the stage it is in.</summary>
    public IEnumerable<(string Stage, string Key, string Value)> Env() =>
        Named("ENV").SelectMany(i => EnvPair().Matches(i.Arguments).Select(m => (i.Stage, m.Groups[1].Value, m.Groups[2].Value)));

    [GeneratedRegex(@"\bAS\s+(\S+)\s*$", RegexOptions.IgnoreCase)]
    private static partial Regex AsStage();

    [GeneratedRegex(@"([A-Za-z_][A-Za-z0-9_]*)=(""[^""]*""|\S+)")]
    private static partial Regex EnvPair();
}
