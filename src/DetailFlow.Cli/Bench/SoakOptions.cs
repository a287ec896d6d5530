namespace DetailFlow.Cli.Bench;

/// <summary>
/// What <see cref="SoakRun"/> does: <see cref="Clients"/> closed-loop clients of mixed traffic against the service at
/// <see cref="Url"/> for <see cref="Duration"/>, <see cref="FaultCommand"/> run every <see cref="FaultEvery"/>, the
/// service's <c>/metrics</c> (and <c>/proc/<see cref="Pid"/>/status</c> when given) sampled every <see cref="SampleEvery"/>.
/// </summary>
public sealed record SoakOptions(Uri Url, TimeSpan Duration, int Clients)
{
    /// <summary>Run by <c>bash -c</c> on the schedule (e.g. stop Redis, sleep, start it again); null: no faults.</summary>
    public string? FaultCommand { get; init; }

    /// <summary>Time between fault starts (the first one after this long); required with <see cref="FaultCommand"/>.</summary>
    public TimeSpan? FaultEvery { get; init; }

    /// <summary>The start of the run left out of the RSS slope and the thread baseline (allocator, caches and JIT settle).</summary>
    public TimeSpan WarmUp { get; init; } = TimeSpan.FromMinutes(1);

    /// <summary>The service's process id: RSS and threads are then read from <c>/proc</c> as well as from <c>/metrics</c>.</summary>
    public int? Pid { get; init; }

    /// <summary>The largest detail requested (default: the model's maximum); smaller prefixes of the schedule are used too.</summary>
    public int? Tokens { get; init; }

    public TimeSpan SampleEvery { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// With a pid, <c>VmRSS</c> is also read this often for the slope: a loaded service's RSS swings by tens of MB within
    /// seconds (a batch's activations come and go, heap trims), and a fit over one reading every 10 s reads that noise as
    /// slope (docs/memory.md).
    /// </summary>
    public TimeSpan RssTraceEvery { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>A request (a stream included) that has not ended after this long is abandoned and counted as stuck.</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromMinutes(3);

    /// <summary>How long the end of the run waits for a fault command still running before killing it.</summary>
    public TimeSpan FaultGrace { get; init; } = TimeSpan.FromMinutes(2);

    /// <summary>Seeds the clients' choices of request kind, class, seed and tokens (a run is repeatable in what it sends).</summary>
    public int Seed { get; init; }

    /// <summary>Throws unless the URL is http(s) on a loopback host and every setting is in range.</summary>
    public void Validate()
    {
        if (!Url.IsAbsoluteUri || Url.Scheme is not ("http" or "https"))
            throw new ArgumentException($"--url '{Url}': expected an absolute http:// or https:// URL");
        if (!ServeBenchmarkOptions.IsLoopback(Url))
            throw new ArgumentException($"--url '{Url}': bench soak only targets this machine (localhost, 127.0.0.0/8 or ::1), not '{Url.Host}'");
        if (Clients is < 1 or > 1024) throw new ArgumentException($"--clients {Clients}: must be in 1..1024");
        if (Duration <= TimeSpan.Zero) throw new ArgumentException($"--minutes {Duration.TotalMinutes}: must be positive");
        if (WarmUp < TimeSpan.Zero || WarmUp >= Duration)
            throw new ArgumentException($"--warmup-minutes {WarmUp.TotalMinutes}: must be at least 0 and shorter than the run ({Duration.TotalMinutes} min)");
        if ((FaultCommand is null) != (FaultEvery is null))
            throw new ArgumentException("--fault-command and --fault-every go together");
        if (FaultEvery is { } every && every <= TimeSpan.Zero) throw new ArgumentException($"--fault-every {every.TotalSeconds}: must be positive");
        if (FaultCommand is { } command && string.IsNullOrWhiteSpace(command)) throw new ArgumentException("--fault-command: empty");
        if (Pid is <= 0) throw new ArgumentException($"--pid {Pid}: must be a process id");
        if (Tokens is <= 0) throw new ArgumentException($"--tokens {Tokens}: must be positive");
        if (SampleEvery <= TimeSpan.Zero || RssTraceEvery <= TimeSpan.Zero || RequestTimeout <= TimeSpan.Zero)
            throw new ArgumentException("sample intervals and request timeout must be positive");
    }

    /// <summary>The default warm-up: a third of the run, at most 5 minutes.</summary>
    public static TimeSpan DefaultWarmUp(TimeSpan duration) => TimeSpan.FromTicks(Math.Min(duration.Ticks / 3, TimeSpan.FromMinutes(5).Ticks));
}
