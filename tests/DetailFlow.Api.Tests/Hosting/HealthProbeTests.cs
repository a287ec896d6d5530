using Xunit.Abstractions;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Net.ServerSentEvents;
using System.Text.Json;

namespace DetailFlow.Api.Tests;

/// <summary>The container HEALTHCHECK command, <c>dotnet DetailFlow.Api.dll --healthcheck</c>, against a live and a dead port.</summary>
public sealed class HealthProbeTests
{
    private static async Task<int> ProbeAsync(params string[] args)
    {
        using var probe = Process.Start(new ProcessStartInfo("dotnet", [ServiceProcess.ApiDll, "--healthcheck", .. args])
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        })!;
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await probe.WaitForExitAsync(cts.Token);
        return probe.ExitCode;
    }

    [Fact]
    public async Task Healthcheck_ExitsZeroWhenServing_OneWhenNot()
    {
        await using (var service = await ServiceProcess.StartAsync())
            Assert.Equal(0, await ProbeAsync($"{service.BaseUrl}/healthz"));
        var dead = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        dead.Start();
        int port = ((IPEndPoint)dead.LocalEndpoint).Port;
        dead.Stop();
        Assert.Equal(1, await ProbeAsync($"http://127.0.0.1:{port}/healthz"));
    }

    [Theory]
    [InlineData("8080", null, "http://127.0.0.1:8080/healthz")]
    [InlineData("9000;9001", "http://+:5000", "http://127.0.0.1:9000/healthz")]
    [InlineData(null, "http://+:5000;http://localhost:5001", "http://127.0.0.1:5000/healthz")]
    [InlineData(null, "http://[::]:7000", "http://127.0.0.1:7000/healthz")]
    [InlineData(null, null, "http://127.0.0.1:8080/healthz")]
    public void DefaultUrl_IsTheServicesOwnPortOnLoopback(string? httpPorts, string? urls, string expected)
    {
        var env = new Dictionary<string, string?> { ["ASPNETCORE_HTTP_PORTS"] = httpPorts, ["ASPNETCORE_URLS"] = urls };
        Assert.Equal(expected, DetailFlow.Api.Hosting.HealthProbe.DefaultUrl(k => env.GetValueOrDefault(k)).ToString());
    }
}
