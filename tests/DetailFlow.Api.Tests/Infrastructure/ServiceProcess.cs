using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace DetailFlow.Api.Tests;

/// <summary>
/// The service as a child process, started the way a container starts it: <c>dotnet DetailFlow.Api.dll</c> from the
/// service's own build output, configured only by environment variables (<c>Section__Key</c>), on a free 127.0.0.1 port,
/// serving the tiny model. It can be sent SIGTERM (graceful shutdown) or SIGKILL (a crash).
/// </summary>
public sealed class ServiceProcess : IAsyncDisposable, IDisposable
{
    private readonly Process _process;
    private readonly ConcurrentQueue<string> _output = new();

    private ServiceProcess(IReadOnlyDictionary<string, string> settings, string? name)
    {
        Name = name ?? "service";
        Port = FreePort();
        var start = new ProcessStartInfo("dotnet", [ApiDll, .. Arguments])
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
            WorkingDirectory = Path.GetTempPath(),
        };
        var env = start.Environment;
        env["ASPNETCORE_URLS"] = BaseUrl;
        env["ASPNETCORE_ENVIRONMENT"] = "Production";
        env["OMP_WAIT_POLICY"] = "PASSIVE";
        env["ModelOptions__GptPath"] = TinyModel.GptPath;
        env["ModelOptions__TokenizerPath"] = TinyModel.TokenizerPath;
        env["ModelOptions__Threads"] = "1";
        env["ModelOptions__DType"] = "Float32";
        for (int i = 0; i < TinyModel.Labels.Length; i++) env[$"ModelOptions__Labels__{i}"] = TinyModel.Labels[i];
        env["RateLimitOptions__PermitsPerMinute"] = "1000000";
        foreach (var (k, v) in settings) env[k] = v;
        _process = Process.Start(start) ?? throw new InvalidOperationException("dotnet did not start");
        _process.OutputDataReceived += (_, e) => { if (e.Data is not null) _output.Enqueue(e.Data); };
        _process.ErrorDataReceived += (_, e) => { if (e.Data is not null) _output.Enqueue(e.Data); };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    private static string[] Arguments => [];

    /// <summary>A label for messages (e.g. "A", "B").</summary>
    public string Name { get; }

    public int Port { get; }
    public string BaseUrl => $"http://127.0.0.1:{Port}";
    public int Pid => _process.Id;
    public bool HasExited => _process.HasExited;
    public int ExitCode => _process.ExitCode;

    /// <summary>What the process wrote so far (for failure messages).</summary>
    public string Output => string.Join('\n', _output);

    /// <summary>DetailFlow.Api.dll in the service's build output (same configuration as these tests).</summary>
    public static string ApiDll
    {
        get
        {
            var dir = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd('/'));   // tests/DetailFlow.Api.Tests/bin/<cfg>/<tfm>
            string tfm = dir.Name, configuration = dir.Parent!.Name;
            var root = dir;
            while (root is not null && !File.Exists(Path.Combine(root.FullName, "DetailFlow.Api.sln"))) root = root.Parent;
            string dll = Path.Combine(root?.FullName ?? throw new DirectoryNotFoundException("DetailFlow.Api.sln"),
                "src", "DetailFlow.Api", "bin", configuration, tfm, "DetailFlow.Api.dll");
            return File.Exists(dll) ? dll : throw new FileNotFoundException("build src/DetailFlow.Api first", dll);
        }
    }

    /// <summary>Starts the service and waits until <c>/readyz</c> answers 200.</summary>
    public static async Task<ServiceProcess> StartAsync(IReadOnlyDictionary<string, string>? settings = null, string? name = null)
    {
        var service = new ServiceProcess(settings ?? new Dictionary<string, string>(), name);
        try
        {
            await service.WaitUntilReadyAsync(TimeSpan.FromSeconds(90));
            return service;
        }
        catch
        {
            await service.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// Starts the service with the admin API on (the test key, <paramref name="dataFolder"/> for jobs, one training thread,
    /// no Redis unless <paramref name="extra"/> says otherwise).
    /// </summary>
    public static Task<ServiceProcess> StartAdminAsync(string dataFolder, IDictionary<string, string>? extra = null)
    {
        var settings = new Dictionary<string, string>
        {
            ["Admin__ApiKey"] = AdminFactory.Key, ["Admin__DataFolder"] = dataFolder, ["Admin__TrainingThreads"] = "1",
            ["ConnectionStrings__Redis"] = "",
        };
        foreach (var (k, v) in extra ?? new Dictionary<string, string>()) settings[k] = v;
        return StartAsync(settings);
    }

    /// <summary>A client that sends the admin key.</summary>
    public HttpClient Admin()
    {
        var client = Client();
        client.DefaultRequestHeaders.Add("X-Api-Key", AdminFactory.Key);
        return client;
    }

    /// <summary>A client for this process that does not drain endless responses on dispose (SSE).</summary>
    public HttpClient Client(TimeSpan? timeout = null) => new(new SocketsHttpHandler { MaxResponseDrainSize = 0 })
    {
        BaseAddress = new Uri(BaseUrl), Timeout = timeout ?? TimeSpan.FromSeconds(60),
    };

    public async Task WaitUntilReadyAsync(TimeSpan limit)
    {
        using var client = Client(TimeSpan.FromSeconds(2));
        try
        {
            await Eventually(() => ReadyAsync(client), state => state is "ready" or "exited", limit, $"{Name} was not ready");
        }
        catch (TimeoutException e) { throw new TimeoutException($"{e.Message}:\n{Output}"); }
        if (_process.HasExited) throw new InvalidOperationException($"{Name} exited with {_process.ExitCode}:\n{Output}");
    }

    private async Task<string> ReadyAsync(HttpClient client)
    {
        if (_process.HasExited) return "exited";
        try { return (await client.GetAsync("/readyz")).IsSuccessStatusCode ? "ready" : "not ready"; }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException) { return e.GetType().Name; }
    }

    /// <summary>SIGTERM: what <c>docker stop</c> sends.</summary>
    public void Terminate() => Signal(15);

    /// <summary>SIGKILL: the replica dies at once (a crash, an OOM kill): no graceful shutdown, no final checkpoint, no state
    /// written. Returns once the process is gone.</summary>
    public void Kill()
    {
        Signal(9);
        _process.WaitForExit(10_000);
    }

    /// <summary>Waits for the exit; null when it did not exit within <paramref name="limit"/>.</summary>
    public async Task<int?> WaitForExitAsync(TimeSpan limit)
    {
        using var cts = new CancellationTokenSource(limit);
        try { await _process.WaitForExitAsync(cts.Token); }
        catch (OperationCanceledException) { return null; }
        return _process.ExitCode;
    }

    private void Signal(int signal)
    {
        if (_process.HasExited) return;
        if (kill(_process.Id, signal) != 0) throw new InvalidOperationException($"kill({_process.Id}, {signal}) failed: errno {Marshal.GetLastPInvokeError()}");
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int kill(int pid, int sig);

    private static int FreePort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }

    public void Dispose()
    {
        Kill();
        _process.Dispose();
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            Kill();
            await WaitForExitAsync(TimeSpan.FromSeconds(10));
        }
        _process.Dispose();
    }
}
