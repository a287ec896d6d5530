using System.Text.RegularExpressions;
using YamlDotNet.RepresentationModel;
using static DetailFlow.Deploy.Tests.ComposeFile;

namespace DetailFlow.Deploy.Tests;

public sealed class ComposeTests
{
    private readonly ComposeFile _compose = ComposeFile.Load();

    [Fact]
    public void Parses_WithApiAndRedisByDefault()
    {
        Assert.Equal(["api", "redis"], _compose.StartedWith(null).Order());
        Assert.Contains("api", _compose.ApiServices().Select(s => s.Name));
    }

    [Fact]
    public void Redis_PersistsToANamedVolume_AndApiUsesIt()
    {
        var redis = _compose.Services["redis"];
        var mount = Scalar(Assert.Single(((YamlSequenceNode)Get(redis, "volumes")!).Children))!;
        string volume = mount.Split(':')[0];
        Assert.Equal("/data", mount.Split(':')[1]);
        Assert.Contains(new YamlScalarNode(volume), ((YamlMappingNode)_compose.Root["volumes"]).Children.Keys);
        Assert.Contains("--appendonly", ((YamlSequenceNode)Get(redis, "command")!).Children.Select(Scalar));
        foreach (var (name, service) in _compose.ApiServices())
        {
            Assert.Equal("redis:6379", Environment(service)["ConnectionStrings__Redis"]);
            Assert.Equal("service_healthy", Scalar(Get((YamlMappingNode)((YamlMappingNode)Get(service, "depends_on")!)["redis"], "condition")));
        }
    }

    public static TheoryData<string, string> ApiEnvironment()
    {
        var data = new TheoryData<string, string>();
        foreach (var (name, service) in ComposeFile.Load().ApiServices())
            foreach (var key in Environment(service).Keys) data.Add(name, key);
        return data;
    }

    [Theory]
    [MemberData(nameof(ApiEnvironment))]
    public void ApiEnvironmentName_MapsToAnAppsettingsKey(string service, string name)
    {
        if (name.StartsWith("ASPNETCORE_", StringComparison.Ordinal) || name.StartsWith("DOTNET_", StringComparison.Ordinal)) return;
        Assert.True(name.Contains("__") && AppSettings.Has(name), $"{service}: environment {name} matches no key in appsettings.json");
    }

    [Fact]
    public void ApiContainerPorts_AreThePortTheImageListensOn()
    {
        foreach (var (name, service) in _compose.ApiServices())
        {
            string listen = Environment(service).GetValueOrDefault("ASPNETCORE_HTTP_PORTS", DockerfileTests.ListenPort);
            foreach (var (_, container) in Ports(service)) Assert.Equal(listen, container);
        }
        var hostPorts = _compose.Services.Values.SelectMany(s => Ports(s).Select(p => p.Host)).ToList();
        Assert.Equal(hostPorts.Count, hostPorts.Distinct().Count());   // profiles run side by side
    }

    [Fact]
    public void ScaleProfile_TwoApiReplicasBehindTheProxy()
    {
        var scale = _compose.StartedWith("scale").ToList();
        var apis = _compose.ApiServices().Select(s => s.Name).Where(scale.Contains).ToList();
        Assert.Equal(2, apis.Count);
        var proxy = _compose.Services["proxy"];
        Assert.Contains("scale", Profiles(proxy));
        // The replicas share one configuration (same Redis, same settings).
        Assert.Equal(Environment(_compose.Services[apis[0]]), Environment(_compose.Services[apis[1]]));

        var mount = Scalar(Assert.Single(((YamlSequenceNode)Get(proxy, "volumes")!).Children))!.Split(':');
        Assert.True(File.Exists(Repo.PathOf(mount[0])), mount[0]);
        string nginx = File.ReadAllText(Repo.PathOf(mount[0]));
        var upstream = Regex.Match(nginx, @"upstream\s+\w+\s*\{(?<body>[^}]*)\}").Groups["body"].Value;
        Assert.Contains("least_conn;", upstream);
        var servers = Regex.Matches(upstream, @"server\s+([\w.-]+):(\d+)").Select(m => (Host: m.Groups[1].Value, Port: m.Groups[2].Value)).ToList();
        Assert.Equal(apis.Order(), servers.Select(s => s.Host).Order());
        Assert.All(servers, s => Assert.Equal(DockerfileTests.ListenPort, s.Port));
        string listen = Regex.Match(nginx, @"listen\s+(\d+)").Groups[1].Value;
        Assert.Equal(listen, Assert.Single(Ports(proxy)).Container);
        Assert.Matches(@"proxy_buffering\s+off;", nginx);   // SSE previews pass through as they are produced
        Assert.Matches(@"proxy_http_version\s+1\.1;", nginx);
        var bodyLimit = Regex.Match(nginx, @"client_max_body_size\s+(\d+)k;");
        Assert.True(bodyLimit.Success);
        Assert.Contains($"MaxBodyBytes = {bodyLimit.Groups[1].Value} * 1024", Repo.Read("src/DetailFlow.Api/Hosting/RequestLimits.cs"));
    }

    [Fact]
    public void GpuProfile_ReservesAnNvidiaGpu_ForTheCudaImage()
    {
        var (name, gpu) = Assert.Single(_compose.ApiServices(), s => Profiles(s.Service).Contains("gpu"));
        Assert.Equal("cuda", Scalar(Get((YamlMappingNode)Get((YamlMappingNode)Get(gpu, "build")!, "args")!, "BACKEND")));
        Assert.StartsWith("cuda", Environment(gpu)["ModelOptions__Device"]);
        var device = (YamlMappingNode)((YamlSequenceNode)((YamlMappingNode)((YamlMappingNode)((YamlMappingNode)gpu["deploy"])["resources"])["reservations"])["devices"]).Children[0];
        Assert.Equal("nvidia", Scalar(device["driver"]));
        Assert.Contains("gpu", ((YamlSequenceNode)device["capabilities"]).Children.Select(Scalar));
    }

    [Fact]
    public void StopGracePeriod_CoversTheDrainAndShutdownMargin()
    {
        int margin = int.Parse(Regex.Match(Repo.Read("src/DetailFlow.Api/Hosting/ServiceCollectionExtensions.cs"),
            @"ShutdownMarginSeconds = (\d+);").Groups[1].Value);
        foreach (var (name, service) in _compose.ApiServices())
        {
            int drain = int.Parse(Environment(service).GetValueOrDefault("BatcherOptions__DrainSeconds") ?? AppSettings.Value("BatcherOptions:DrainSeconds"));
            var grace = Regex.Match(Scalar(Get(service, "stop_grace_period")) ?? "10s", @"^(\d+)s$");
            Assert.True(grace.Success, $"{name}: stop_grace_period in seconds");
            Assert.True(int.Parse(grace.Groups[1].Value) > drain + margin, $"{name}: stop_grace_period must exceed DrainSeconds {drain} + {margin} s");
        }
    }
}
