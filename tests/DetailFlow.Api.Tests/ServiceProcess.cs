using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace DetailFlow.Api.Tests;

/// <summary>
/// The service as a real child process (<c>dotnet DetailFlow.Api.dll</c> from the Api project's build output) with the
/// tiny model, the admin key and a given data folder, on a free port; <see cref="Kill"/> ends it abruptly (SIGKILL).
/// </summary>
public sealed class ServiceProcess : IDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _log = new();

    private ServiceProcess(string dataFolder, IDictionary<string, string>? extra)
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        BaseUrl = $"http://127.0.0.1:{port}";
        string dll = ApiDll();
        var info = new ProcessStartInfo("dotnet", [dll])
        {
            WorkingDirectory = Path.GetDirectoryName(dll)!, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        var env = new Dictionary<string, string>
        {
            ["ASPNETCORE_URLS"] = BaseUrl, ["ModelOptions__GptPath"] = TinyModel.GptPath, ["ModelOptions__TokenizerPath"] = TinyModel.TokenizerPath,
            ["ModelOptions__Threads"] = "1", ["Admin__ApiKey"] = AdminFactory.Key, ["Admin__DataFolder"] = dataFolder,
            ["Admin__TrainingThreads"] = "1", ["OMP_WAIT_POLICY"] = "PASSIVE", ["ConnectionStrings__Redis"] = "",
        };
        foreach (var (k, v) in extra ?? new Dictionary<string, string>()) env[k] = v;
        foreach (var (k, v) in env) info.Environment[k] = v;
        _process = Process.Start(info) ?? throw new InvalidOperationException("dotnet did not start");
        _process.OutputDataReceived += (_, e) => { lock (_log) _log.AppendLine(e.Data); };
        _process.ErrorDataReceived += (_, e) => { lock (_log) _log.AppendLine(e.Data); };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    public string BaseUrl { get; }

    public string Log { get { lock (_log) return _log.ToString(); } }

    public static async Task<ServiceProcess> StartAsync(string dataFolder, IDictionary<string, string>? extra = null)
    {
        var service = new ServiceProcess(dataFolder, extra);
        using var client = new HttpClient { BaseAddress = new Uri(service.BaseUrl) };
        for (int i = 0; i < 1200; i++)
        {
            if (service._process.HasExited) throw new InvalidOperationException($"the service exited ({service._process.ExitCode}):\n{service.Log}");
            try { if ((await client.GetAsync("/readyz")).IsSuccessStatusCode) return service; }
            catch (HttpRequestException) { }
            await Task.Delay(50);
        }
        service.Dispose();
        throw new TimeoutException($"the service did not become ready:\n{service.Log}");
    }

    public HttpClient Admin()
    {
        var client = new HttpClient(new SocketsHttpHandler { MaxResponseDrainSize = 0 }) { BaseAddress = new Uri(BaseUrl) };
        client.DefaultRequestHeaders.Add("X-Api-Key", AdminFactory.Key);
        return client;
    }

    /// <summary>SIGKILL: no graceful shutdown, no final checkpoint, no state written.</summary>
    public void Kill()
    {
        if (_process.HasExited) return;
        _process.Kill(entireProcessTree: true);
        _process.WaitForExit();
    }

    /// <summary>The Api project's own build output (it has the runtimeconfig, appsettings and natives the service needs).</summary>
    private static string ApiDll()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "DetailFlow.Api.sln"))) dir = dir.Parent;
        Assert.NotNull(dir);
        string config = new DirectoryInfo(AppContext.BaseDirectory).Parent!.Name;   // Release or Debug, as the tests
        string dll = Path.Combine(dir.FullName, "src", "DetailFlow.Api", "bin", config, "net10.0", "DetailFlow.Api.dll");
        Assert.True(File.Exists(dll), $"{dll} not built");
        return dll;
    }

    public void Dispose()
    {
        Kill();
        _process.Dispose();
    }
}
