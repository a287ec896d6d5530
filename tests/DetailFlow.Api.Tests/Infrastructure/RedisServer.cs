using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using DetailFlow.Api.Caching;

namespace DetailFlow.Api.Tests;

/// <summary>A throwaway <c>redis-server</c> (Debian package) on a free 127.0.0.1 port, stoppable and restartable on that port.</summary>
public sealed class RedisServer : IDisposable
{
    private Process? _process;

    public RedisServer()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        Port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        Start();
    }

    public int Port { get; }
    public string ConnectionString => $"127.0.0.1:{Port}";

    public void Start()
    {
        _process = Process.Start(new ProcessStartInfo("redis-server", $"--port {Port} --bind 127.0.0.1 --save \"\" --appendonly no")
        {
            RedirectStandardOutput = true, UseShellExecute = false,
        }) ?? throw new InvalidOperationException("redis-server did not start (apt-get install -y redis-server, or run tests/run.sh)");
        _process.BeginOutputReadLine();
        // Synchronous: fixtures construct it; Eventually does not resume on the caller's context, so blocking is safe.
        Eventually(Listening, TimeSpan.FromSeconds(5), $"redis-server did not listen on {Port}").GetAwaiter().GetResult();
    }

    /// <summary>
    /// The service's fail-fast connection to this server, once it is up: its 1-s connect timeout can pass on a loaded
    /// machine, and then it connects in the background while commands fail at once.
    /// </summary>
    public RedisConnection Connect()
    {
        var connection = new RedisConnection(ConnectionString);
        Eventually(() => connection.IsConnected, TimeSpan.FromSeconds(15), $"no connection to redis-server on {Port}").GetAwaiter().GetResult();
        return connection;
    }

    private bool Listening()
    {
        try { using var c = new TcpClient(); c.Connect(IPAddress.Loopback, Port); return true; }
        catch (SocketException) { return false; }
    }

    public void Stop()
    {
        if (_process is null) return;
        _process.Kill();
        _process.WaitForExit();
        _process.Dispose();
        _process = null;
    }

    public void Dispose() => Stop();
}
