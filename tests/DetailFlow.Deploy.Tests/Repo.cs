namespace DetailFlow.Deploy.Tests;

/// <summary>The repository checkout the tests run from (the folder holding DetailFlow.Api.sln).</summary>
public static class Repo
{
    public static readonly string Root = FindRoot();

    public static string PathOf(string relative) => Path.Combine(Root, relative);

    public static string Read(string relative) => File.ReadAllText(PathOf(relative));

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "DetailFlow.Api.sln"))) return dir.FullName;
        throw new DirectoryNotFoundException("DetailFlow.Api.sln not found above " + AppContext.BaseDirectory);
    }
}
