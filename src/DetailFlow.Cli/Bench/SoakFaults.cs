using System.Diagnostics;

namespace DetailFlow.Cli.Bench;

/// <summary>One run of the fault command: when it started and ended (seconds into the run), its exit code, its last output line.</summary>
public sealed record SoakFault(
    int Index,
    double StartSeconds,
    double EndSeconds,
    int? ExitCode,
    string? Output);

/// <summary>
/// Runs the fault command with <c>bash -c</c> every <c>every</c> (at every, 2·every, … into the run; a run still going
/// at its next slot delays that one), none starting after the end of the traffic. <see cref="RunAsync"/> returns once the
/// last one has ended: it waits up to <c>grace</c> for a fault still running when the traffic stops (so a service
/// dependency stopped by it is started again), then kills its process tree.
/// </summary>
internal sealed class SoakFaults(string command, TimeSpan every, TimeSpan grace)
{
    private readonly List<SoakFault> _faults = [];

    public IReadOnlyList<SoakFault> Faults
    {
        get { lock (_faults) return _faults.ToArray(); }
    }

    public async Task RunAsync(long runStart, TimeSpan duration, CancellationToken ct)
    {
        for (int index = 1; ; index++)
        {
            var slot = every * index;
            var wait = slot - Stopwatch.GetElapsedTime(runStart);
            if (slot >= duration) return;
            if (wait > TimeSpan.Zero) await Task.Delay(wait, ct);
            if (Stopwatch.GetElapsedTime(runStart) >= duration) return;
            await RunOneAsync(index, runStart, duration, ct);
        }
    }

    private async Task RunOneAsync(int index, long runStart, TimeSpan duration, CancellationToken ct)
    {
        double start = Stopwatch.GetElapsedTime(runStart).TotalSeconds;
        var info = new ProcessStartInfo("bash", ["-c", command])
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        string? last = null;
        using var process = Process.Start(info) ?? throw new InvalidOperationException("bash did not start");
        process.OutputDataReceived += (_, e) => { if (!string.IsNullOrWhiteSpace(e.Data)) last = e.Data; };
        process.ErrorDataReceived += (_, e) => { if (!string.IsNullOrWhiteSpace(e.Data)) last = e.Data; };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        int? exit = null;
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(ct);
        // Bounded: a fault may outlast the traffic by the grace period, no more.
        limit.CancelAfter(duration + grace - Stopwatch.GetElapsedTime(runStart));
        try
        {
            await process.WaitForExitAsync(limit.Token);
            exit = process.ExitCode;
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            last = "killed: still running at the end of the grace period";
        }
        lock (_faults) _faults.Add(new SoakFault(index, start, Stopwatch.GetElapsedTime(runStart).TotalSeconds, exit, last));
        ct.ThrowIfCancellationRequested();
    }
}
