using System.Diagnostics;

namespace DetailFlow.Api.Tests;

/// <summary>
/// Runs Node.js tools for the client tests: the repository's <c>tests/openai-node</c> folder, its packages installed
/// from the committed lockfile (<c>npm ci</c>, run here when <c>tests/run.sh</c> has not), and <c>node</c> itself.
/// A missing Node is a failure with the reason, never a skip.
/// </summary>
public static class NodeTool
{
    private static readonly SemaphoreSlim InstallLock = new(1, 1);

    public static string Folder(string name)
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "DetailFlow.Api.sln"))) dir = dir.Parent;
        return Path.Combine(dir?.FullName ?? throw new DirectoryNotFoundException("DetailFlow.Api.sln above " + AppContext.BaseDirectory), "tests", name);
    }

    /// <summary>Installs the lockfile's packages unless <paramref name="package"/> is already there at the locked version.</summary>
    public static async Task EnsureInstalledAsync(string folder, string package, string version)
    {
        await InstallLock.WaitAsync();
        try
        {
            string installed = Path.Combine(folder, "node_modules", package, "package.json");
            if (File.Exists(installed) && (await File.ReadAllTextAsync(installed)).Contains($"\"version\": \"{version}\"")) return;
            var (code, output) = await RunAsync("npm", ["ci", "--no-audit", "--no-fund"], folder, new Dictionary<string, string>(), TimeSpan.FromMinutes(5));
            Assert.True(code == 0, $"npm ci in {folder} failed ({code}); it needs the npm registry once (or run tests/run.sh):\n{output}");
        }
        finally
        {
            InstallLock.Release();
        }
    }

    /// <summary>Runs a program to its end (or kills it at <paramref name="limit"/>); exit code and stdout + stderr.</summary>
    public static async Task<(int Code, string Output)> RunAsync(string program, IEnumerable<string> args, string folder,
        IReadOnlyDictionary<string, string> env, TimeSpan limit)
    {
        var start = new ProcessStartInfo(program, args) { WorkingDirectory = folder, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var (k, v) in env) start.Environment[k] = v;
        Process process;
        try { process = Process.Start(start) ?? throw new InvalidOperationException($"{program} did not start"); }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new InvalidOperationException($"{program} is not installed (Node.js 20 and npm are needed; tests/run.sh installs Debian's nodejs and npm): {e.Message}", e);
        }
        using (process)
        {
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            using var cts = new CancellationTokenSource(limit);
            try { await process.WaitForExitAsync(cts.Token); }
            catch (OperationCanceledException)
            {
                process.Kill(entireProcessTree: true);
                await process.WaitForExitAsync();
                return (-1, $"{program} ran past {limit.TotalSeconds} s and was killed\n{await stdout}\n{await stderr}");
            }
            return (process.ExitCode, await stdout + "\n" + await stderr);
        }
    }
}
