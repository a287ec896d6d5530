
namespace DetailFlow.Cli.Bench;

/// <summary>Requests of one kind over the whole run: outcomes and the latency of those that succeeded.</summary>
public sealed record SoakKindStats(
    string Kind,
    int Requests,
    int Ok,
    int Refused,
    int Errors,
    double? P50Ms,
    double? P95Ms);

/// <summary>
/// The requests of one phase (before the first fault, during fault k, after fault k; "run" without faults): outcomes,
/// latency percentiles of the successful generation requests (malformed ones and cut streams left out: they say nothing
/// about generation latency), and every non-success by "kind: what" (refusals included).
/// </summary>
public sealed record SoakPhaseStats(
    string Phase,
    double FromSeconds,
    double? ToSeconds,
    int Requests,
    int Ok,
    int Refused,
    int Errors,
    double? P50Ms,
    double? P95Ms,
    double? P99Ms,
    double? MaxMs,
    IReadOnlyDictionary<string, int> ErrorKinds);

/// <summary>The soak's arithmetic: phases around the faults, per-kind and per-phase statistics, least-squares slopes.</summary>
public static class SoakStats
{
    /// <summary>Phase boundaries: "before faults" up to the first fault, "fault k" while it ran, "after fault k" up to the next.</summary>
    public static IReadOnlyList<(string Name, double From, double? To)> Phases(IReadOnlyList<SoakFault> faults)
    {
        if (faults.Count == 0) return [("run", 0, null)];
        var phases = new List<(string, double, double?)> { ("before faults", 0, faults[0].StartSeconds) };
        for (int k = 0; k < faults.Count; k++)
        {
            phases.Add(($"fault {faults[k].Index}", faults[k].StartSeconds, faults[k].EndSeconds));
            phases.Add(($"after fault {faults[k].Index}", faults[k].EndSeconds, k + 1 < faults.Count ? faults[k + 1].StartSeconds : null));
        }
        return phases;
    }

    /// <summary>A request overlapping a fault belongs to that fault's phase; otherwise to the phase it started in.</summary>
    public static string PhaseOf(SoakRecord r, IReadOnlyList<SoakFault> faults)
    {
        if (faults.Count == 0) return "run";
        foreach (var f in faults)
            if (r.StartSeconds <= f.EndSeconds && r.EndSeconds >= f.StartSeconds) return $"fault {f.Index}";
        var before = faults.LastOrDefault(f => f.EndSeconds < r.StartSeconds);
        return before is null ? "before faults" : $"after fault {before.Index}";
    }

    public static IReadOnlyList<SoakPhaseStats> ByPhase(IReadOnlyList<SoakRecord> records, IReadOnlyList<SoakFault> faults)
    {
        var groups = records.GroupBy(r => PhaseOf(r, faults)).ToDictionary(g => g.Key, g => g.ToList());
        return Phases(faults).Select(p =>
        {
            var rs = groups.GetValueOrDefault(p.Name) ?? [];
            var ms = Latencies(rs.Where(r => r.Ok && !SoakKinds.IsMalformed(r.Kind) && r.Kind != SoakKinds.StreamCut));
            var kinds = rs.Where(r => !r.Ok).GroupBy(r => $"{r.Kind}: {r.Error}").OrderBy(g => g.Key, StringComparer.Ordinal)
                .ToDictionary(g => g.Key, g => g.Count());
            return new SoakPhaseStats(p.Name, Math.Round(p.From, 1), p.To is { } to ? Math.Round(to, 1) : null, rs.Count,
                rs.Count(r => r.Ok), rs.Count(r => r.Refused), rs.Count(r => !r.Ok && !r.Refused),
                Ms(ms, 0.50), Ms(ms, 0.95), Ms(ms, 0.99), ms.Length > 0 ? Math.Round(ms.Max(), 1) : null, kinds);
        }).ToArray();
    }

    public static IReadOnlyList<SoakKindStats> ByKind(IReadOnlyList<SoakRecord> records) =>
        records.GroupBy(r => r.Kind).OrderBy(g => g.Key, StringComparer.Ordinal).Select(g =>
        {
            var ms = Latencies(g.Where(r => r.Ok));
            return new SoakKindStats(g.Key, g.Count(), g.Count(r => r.Ok), g.Count(r => r.Refused), g.Count(r => !r.Ok && !r.Refused),
                Ms(ms, 0.50), Ms(ms, 0.95));
        }).ToArray();

    /// <summary>The least-squares slope of <paramref name="points"/> (y per x); null for fewer than two distinct x.</summary>
    public static double? Slope(IReadOnlyList<(double X, double Y)> points)
    {
        if (points.Count < 2) return null;
        double mx = points.Average(p => p.X), my = points.Average(p => p.Y);
        double sxx = points.Sum(p => (p.X - mx) * (p.X - mx)), sxy = points.Sum(p => (p.X - mx) * (p.Y - my));
        return sxx > 0 ? sxy / sxx : null;
    }

    private static double[] Latencies(IEnumerable<SoakRecord> records) => records.Select(r => r.LatencySeconds * 1000).ToArray();

    private static double? Ms(double[] values, double q) =>
        ServeBenchmarkReport.Percentile(values, q) is { } v ? Math.Round(v, 1) : null;
}
