using System.Globalization;
using DetailFlow.Cli.Console;

namespace DetailFlow.Cli.Bench;

/// <summary>A <see cref="SoakReport"/> as tables (summary, kinds, phases, faults) and the verdict line.</summary>
internal sealed class SoakReportView(IConsoleUi ui)
{
    public void Show(SoakReport r)
    {
        var m = r.Memory;
        var t = r.Threads;
        ui.Table(["metric", "value"],
        [
            ["model / clients / seconds", $"{r.Model} / {r.Clients} / {F(r.Seconds)} (warm-up {F(r.WarmupSeconds)} s)"],
            ["requests (ok)", $"{r.Requests} ({r.Ok})"],
            ["responses 5xx", I(r.ServerErrors)],
            ["no HTTP answer (connection error, timeout)", I(r.TransportErrors)],
            ["malformed not answered 4xx", I(r.MalformedAccepted)],
            ["refusals 429/503 (with / without Retry-After)", $"{r.Refusals.Total} ({r.Refusals.WithRetryAfter} / {r.Refusals.WithoutRetryAfter})"],
            ["streams (completed / cut / error events / unfinished)", $"{r.Streams.Started} ({r.Streams.Completed} / {r.Streams.Cut} / {r.Streams.ErrorEvents} / {r.Streams.Unfinished})"],
            ["repeats served from the cache", $"{r.RepeatsCacheHits} of {r.RepeatsOk}"],
            ["OpenAI route in the mix", r.OpenAiRoute ? "yes" : "no (404)"],
            [$"RSS start / after warm-up / end / peak ({m.Source})", $"{Mb(m.StartMb)} / {Mb(m.AfterWarmupMb)} / {Mb(m.EndMb)} / {Mb(m.PeakMb)}"],
            ["RSS slope after warm-up (fitted readings)", m.SlopeMbPerMin is { } s ? $"{F(s, "0.00")} MB/min ({I(m.SlopePoints)})" : "—"],
            ["managed heap at the end / GCs", $"{Mb(m.HeapEndMb)} / {N(m.GcCollections)}"],
            [$"threads first / after warm-up / last / max ({t.Source})", $"{N(t.First)} / {N(t.AfterWarmup)} / {N(t.Last)} / {N(t.Max)}"],
            ["queue depth / rows in use at the end", $"{N(t.QueueDepthEnd)} / {N(t.RowsInUseEnd)}"],
            ["cache hit ratio at the end", r.CacheHitRatioEnd is { } h ? F(h, "0.000") : "—"],
        ]);
        ui.Table(["kind", "requests", "ok", "refused", "errors", "p50 / p95 ms"],
            r.Kinds.Select(k => new[] { k.Kind, I(k.Requests), I(k.Ok), I(k.Refused), I(k.Errors), $"{Ms(k.P50Ms)} / {Ms(k.P95Ms)}" }));
        ui.Table(["phase", "seconds", "requests", "ok", "refused", "errors", "p50 / p95 / p99 / max ms"],
            r.Phases.Select(p => new[]
            {
                p.Phase, $"{F(p.FromSeconds)}–{N(p.ToSeconds)}", I(p.Requests), I(p.Ok), I(p.Refused), I(p.Errors),
                $"{Ms(p.P50Ms)} / {Ms(p.P95Ms)} / {Ms(p.P99Ms)} / {Ms(p.MaxMs)}",
            }));
        var errors = r.Phases.SelectMany(p => p.ErrorKinds.Select(e => new[] { p.Phase, e.Key, I(e.Value) })).ToArray();
        if (errors.Length > 0) ui.Table(["phase", "not ok (kind: what)", "count"], errors);
        if (r.Faults.Count > 0)
            ui.Table(["fault", "start s", "end s", "exit", "last output"],
                r.Faults.Select(f => new[] { I(f.Index), F(f.StartSeconds), F(f.EndSeconds), N(f.ExitCode), f.Output ?? "" }));
        if (r.Pass) ui.Success("verdict: " + r.Verdict);
        else ui.Error("verdict: " + r.Verdict);
    }

    /// <summary>One progress line per sample.</summary>
    public static string SampleLine(SoakSample s) => s.Error is { } error
        ? $"t={F(s.Seconds)} s  /metrics failed: {error}  rss={Mb(s.RssMb)}"
        : $"t={F(s.Seconds)} s  rss={Mb(s.RssMb)}  heap={Mb(s.HeapMb)}  gcs={N(s.GcCollections)}  threads={N(s.Threads)} (pool {N(s.PoolThreads)})  " +
          $"queue={N(s.QueueDepth)}  rows={N(s.RowsInUse)}  cache hits={(s.CacheHitRatio is { } h ? F(h, "0.00") : "—")}";

    private static string F(double v, string format = "0.#") => v.ToString(format, CultureInfo.InvariantCulture);
    private static string I(int v) => v.ToString(CultureInfo.InvariantCulture);
    private static string N(double? v) => v is { } x ? F(x) : "—";
    private static string N(long? v) => v is { } x ? x.ToString(CultureInfo.InvariantCulture) : "—";
    private static string N(int? v) => v is { } x ? I(x) : "—";
    private static string Ms(double? v) => v is { } x ? F(x, "0") : "—";
    private static string Mb(double? v) => v is { } x ? F(x, "0") + " MB" : "—";
}
