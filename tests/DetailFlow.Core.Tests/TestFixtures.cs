using DetailFlow.Parity;

namespace DetailFlow.Core.Tests;

/// <summary>
/// Locates <c>shared/fixtures/detailflow</c>: <c>$DETAILFLOW_FIXTURES</c>, else the first ancestor of the test
/// binaries that has <c>shared/fixtures/detailflow</c> (the repository sits beside <c>shared/</c> in every checkout
/// and in CI). Missing fixtures fail the tests: parity is the definition of correct.
/// </summary>
public static class TestFixtures
{
    public static string Root { get; } = Locate();

    public static FixtureSet Set { get; } = new(Root);

    public static string Case(string name) => Path.Combine(Root, "cases", name + ".json");

    private static string Locate()
    {
        if (Environment.GetEnvironmentVariable("DETAILFLOW_FIXTURES") is { Length: > 0 } env) return env;
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, "shared", "fixtures", "detailflow");
            if (Directory.Exists(candidate)) return candidate;
        }
        throw new DirectoryNotFoundException(
            "shared/fixtures/detailflow not found above " + AppContext.BaseDirectory + "; set DETAILFLOW_FIXTURES");
    }
}
