using System.Text.RegularExpressions;

namespace DetailFlow.Deploy.Tests;

/// <summary>The exclusion patterns of a <c>.dockerignore</c> (no <c>!</c> exceptions: the file here uses none).</summary>
public sealed class DockerIgnore(string text)
{
    private readonly Regex[] _patterns = text.Split('\n').Select(l => l.Trim()).Where(l => l.Length > 0 && !l.StartsWith('#'))
        .Select(p =>
        {
            Assert.False(p.StartsWith('!'), ".dockerignore exceptions (!) are not understood by this check");
            string glob = p.TrimStart('/').TrimEnd('/');
            string regex = Regex.Escape(glob).Replace(@"\*\*/", "(.*/)?").Replace(@"\*", "[^/]*").Replace(@"\?", "[^/]");
            return new Regex("^" + regex + "$");
        }).ToArray();

    /// <summary>Whether the context path (relative, '/'-separated) or a folder above it is excluded.</summary>
    public bool Excludes(string path)
    {
        var parts = path.Trim('/').Split('/');
        for (int n = 1; n <= parts.Length; n++)
        {
            string prefix = string.Join('/', parts.Take(n));
            if (_patterns.Any(p => p.IsMatch(prefix))) return true;
        }
        return false;
    }
}
