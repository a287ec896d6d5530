using System.Text.RegularExpressions;
using System.Xml.Linq;

namespace DetailFlow.Deploy.Tests;

public sealed class DockerfileTests
{
    private static readonly Dockerfile File = new(Repo.Read("Dockerfile"));
    private static readonly DockerIgnore Ignore = new(Repo.Read(".dockerignore"));

    public static TheoryData<string> CopySources()
    {
        var data = new TheoryData<string>();
        foreach (var source in File.ContextCopies().SelectMany(c => c.Sources).Distinct()) data.Add(source);
        return data;
    }

    [Fact]
    public void Copies_AreFound()
    {
        // Guards the theory below against a parser that finds nothing.
        var sources = File.ContextCopies().SelectMany(c => c.Sources).ToList();
        Assert.Contains("models/default/", sources);
        Assert.Contains("src/DetailFlow.Api/", sources);
        Assert.Contains("build/PatchGlibcxx.targets", sources);
    }

    [Theory]
    [MemberData(nameof(CopySources))]
    public void CopySource_ExistsAndIsInTheBuildContext(string source)
    {
        string path = Repo.PathOf(source);
        Assert.True(System.IO.File.Exists(path) || Directory.Exists(path), $"COPY source '{source}' does not exist");
        Assert.False(Ignore.Excludes(source), $"COPY source '{source}' is excluded by .dockerignore");
    }

    [Fact]
    public void DockerIgnore_KeepsTheDefaultModelAndDropsBuildOutputs()
    {
        foreach (var kept in new[] { "models/default/gpt.safetensors", "models/default/tokenizer.safetensors", "models/default/labels.txt",
                     "src/DetailFlow.Api/Program.cs", "appsettings.json", "build/PatchGlibcxx.targets" })
        {
            Assert.True(System.IO.File.Exists(Repo.PathOf(kept)), kept);
            Assert.False(Ignore.Excludes(kept), $"{kept} is excluded by .dockerignore");
        }
        foreach (var dropped in new[] { "src/DetailFlow.Api/bin/Release/net10.0/libtorch_cpu.so", "src/DetailFlow.Core/obj/project.assets.json", ".git/HEAD", "tests/DetailFlow.Api.Tests/Infrastructure/TinyModel.cs" })
            Assert.True(Ignore.Excludes(dropped), $"{dropped} is not excluded by .dockerignore");
    }

    [Fact]
    public void EveryProjectTheImageBuilds_IsCopiedWithItsProjectReferences()
    {
        var copied = File.ContextCopies().SelectMany(c => c.Sources).Select(s => s.TrimEnd('/')).ToHashSet();
        var queue = new Queue<string>(["src/DetailFlow.Api/DetailFlow.Api.csproj"]);
        var seen = new HashSet<string>();
        while (queue.TryDequeue(out var project))
        {
            if (!seen.Add(project)) continue;
            string folder = Path.GetDirectoryName(project)!.Replace('\\', '/');
            Assert.Contains(project, copied);   // restore layer
            Assert.Contains(folder, copied);    // sources
            foreach (var reference in XDocument.Load(Repo.PathOf(project)).Descendants("ProjectReference"))
            {
                string full = Path.GetFullPath(Path.Combine(Repo.PathOf(folder), reference.Attribute("Include")!.Value.Replace('\\', '/')));
                queue.Enqueue(Path.GetRelativePath(Repo.Root, full).Replace('\\', '/'));
            }
        }
        Assert.Contains("src/DetailFlow.Core/DetailFlow.Core.csproj", seen);
    }

    [Fact]
    public void Build_PublishesLinuxX64FrameworkDependent_WithTheChosenTorchBackend()
    {
        var publish = Assert.Single(File.Named("RUN"), r => r.Arguments.Contains("dotnet publish"));
        Assert.Equal("build", publish.Stage);
        foreach (var flag in new[] { "-c Release", "-r linux-x64", "--self-contained false", "-p:TorchBackend=${BACKEND}" })
            Assert.Contains(flag, publish.Arguments);
        var restore = Assert.Single(File.Named("RUN"), r => r.Arguments.Contains("dotnet restore"));
        Assert.Contains("-p:TorchBackend=${BACKEND}", restore.Arguments);

        // Every backend the build argument can name has a runtime stage, and Directory.Build.targets knows it.
        var backends = File.Named("FROM").Select(f => Regex.Match(f.Arguments, @"\bAS\s+runtime-(\w+)$", RegexOptions.IgnoreCase))
            .Where(m => m.Success).Select(m => m.Groups[1].Value).ToList();
        Assert.Equal(["cpu", "cuda"], backends.Order());
        string targets = Repo.Read("Directory.Build.targets");
        foreach (var backend in backends) Assert.Contains($"'$(TorchBackend)' == '{backend}'", targets);
        Assert.Contains(File.Instructions, i => i.Keyword == "FROM" && i.Arguments.StartsWith("runtime-${BACKEND}", StringComparison.Ordinal));
    }

    [Fact]
    public void FinalStage_RunsAsNonRoot_WithHealthcheckAndExecEntrypoint()
    {
        var final = File.Instructions.Where(i => i.Stage == "final").ToList();
        var user = Assert.Single(final, i => i.Keyword == "USER");
        Assert.DoesNotMatch(@"^(root|0)(:|$)", user.Arguments);
        var health = Assert.Single(final, i => i.Keyword == "HEALTHCHECK");
        Assert.Contains("\"--healthcheck\"", health.Arguments);   // the binary's own probe of /healthz (no curl in the image)
        var entry = Assert.Single(final, i => i.Keyword == "ENTRYPOINT");
        Assert.StartsWith("[", entry.Arguments);   // exec form: dotnet is PID 1 and gets SIGTERM
        Assert.Contains("DetailFlow.Api.dll", entry.Arguments);
        // The CUDA base has no `app` user of its own: its stage must create the uid the final stage switches to.
        var cudaUid = File.Env().Single(e => e.Stage == "runtime-cuda" && e.Key == "APP_UID").Value;
        Assert.Contains(File.Named("RUN"), r => r.Stage == "runtime-cuda" && r.Arguments.Contains($"--uid {cudaUid}"));
    }

    /// <summary>The port the image listens on (ASPNETCORE_HTTP_PORTS of the final stage).</summary>
    public static string ListenPort => File.Env().Single(e => e.Stage == "final" && e.Key == "ASPNETCORE_HTTP_PORTS").Value;

    [Fact]
    public void ListenPort_IsExposed()
    {
        Assert.Matches(@"^\d+$", ListenPort);
        Assert.Equal(ListenPort, Assert.Single(File.Named("EXPOSE")).Arguments);
    }

    /// <summary>glibc settles its arena cap before the service's Main runs: both ways of
    /// starting the service a newcomer meets — the image and <c>dotnet run</c>'s launch profile — set one arena.</summary>
    [Fact]
    public void TheImageAndTheLaunchProfile_StartTheServiceWithOneMallocArena()
    {
        Assert.Equal("1", File.Env().Single(e => e.Stage == "final" && e.Key == "MALLOC_ARENA_MAX").Value);
        using var launch = System.Text.Json.JsonDocument.Parse(Repo.Read("src/DetailFlow.Api/Properties/launchSettings.json"));
        var profile = Assert.Single(launch.RootElement.GetProperty("profiles").EnumerateObject()).Value;   // `dotnet run` takes the first
        Assert.Equal("Project", profile.GetProperty("commandName").GetString());
        Assert.Equal("1", profile.GetProperty("environmentVariables").GetProperty("MALLOC_ARENA_MAX").GetString());
    }

    [Fact]
    public void EnvSettings_NameExistingConfigurationKeys()
    {
        var settings = File.Env().Where(e => e.Key.Contains("__")).Select(e => e.Key).ToList();
        Assert.NotEmpty(settings);
        foreach (var key in settings) Assert.True(AppSettings.Has(key), $"Dockerfile ENV {key} matches no key in appsettings.json");
    }
}
