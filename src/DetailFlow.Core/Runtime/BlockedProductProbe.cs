using System.Diagnostics;
using System.Globalization;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace DetailFlow.Core.Runtime;

/// <summary>
/// Up to how many rows a model's packed products run in C# (<see cref="BlockedProduct"/>), with the times that decided
/// it: per row count measured, seconds of the probe's products by oneDNN and in C#.
/// </summary>
public sealed record HostRowsChoice(int Rows, string Reason, IReadOnlyList<(int Rows, double OneDnn, double Host)> Timings)
{
    public string Describe() => Timings.Count == 0
        ? $"{Summary} ({Reason})"
        : $"{Summary} ({Reason}: " + string.Join(", ", Timings.Select(t =>
            string.Create(CultureInfo.InvariantCulture, $"{t.Rows} rows C# {t.Host * 1e3:F2} vs oneDNN {t.OneDnn * 1e3:F2} ms"))) + ")";

    /// <summary><c>onednn</c>, or <c>C# up to R rows</c>.</summary>
    public string Summary => SummaryOf(Rows);

    public static string SummaryOf(int rows) => rows == 0 ? "onednn" : $"C# up to {rows} rows";
}

/// <summary>
/// Chooses, on the machine, up to how many rows a model's packed bf16 products run in C# rather than in oneDNN: the
/// model's own packed weights (enough layers to be read from memory, not from the caches) multiplied at 2, 4, 8, …
/// rows both ways, alternating, best of each within the budget; C# runs up to the largest count of that sequence at
/// which it was faster, stopping at the first it was not.
/// </summary>
public static class BlockedProductProbe
{
    /// <summary>Bytes of weights a timed pass reads: several times a server CPU's last-level cache.</summary>
    private const long PassBytes = 192L << 20;

    /// <summary>
    /// <paramref name="configured"/> rows where set (0: none), else the probe's choice for batches of up to
    /// <paramref name="maxRows"/> rows; applied to <paramref name="model"/> (<see cref="PackedLinear.SetHostRows"/>).
    /// </summary>
    public static HostRowsChoice Choose(nn.Module model, int? configured, int maxRows, TimeSpan budget)
    {
        var layers = model.modules().OfType<Linear>().Where(l => PackedLinear.HostView(l) is not null).ToList();
        if (layers.Count == 0)
            return new HostRowsChoice(0, "no packed bf16 weight that C# can read", []);
        if (configured is { } rows)
        {
            PackedLinear.SetHostRows(model, rows);
            return new HostRowsChoice(rows, "configured", []);
        }
        var clock = Stopwatch.StartNew();
        var pass = new List<Linear>();
        long bytes = 0;
        foreach (var layer in layers)
        {
            if (bytes >= PassBytes) break;
            pass.Add(layer);
            var view = PackedLinear.HostView(layer)!;
            bytes += 2L * view.Inputs * view.Outputs;
        }
        var timings = new List<(int, double, double)>();
        int chosen = 0;
        using var noGrad = torch.no_grad();
        var candidates = new List<int>();
        for (int r = 2; r <= maxRows; r *= 2) candidates.Add(r);
        foreach (int r in candidates)
        {
            var slice = (budget - clock.Elapsed) / Math.Max(1, 2 * (candidates.Count - candidates.IndexOf(r)));
            if (slice <= TimeSpan.Zero) break;
            using var scope = torch.NewDisposeScope();
            var inputs = pass.Select(l => l.weight!.shape[1]).Distinct().ToDictionary(k => k, k => torch.randn([r, k]).to(ScalarType.BFloat16));
            void Pass()
            {
                using var products = torch.NewDisposeScope();
                foreach (var layer in pass) PackedLinear.Forward(layer, inputs[layer.weight!.shape[1]]);
            }
            double Time(int hostRows)
            {
                PackedLinear.SetHostRows(model, hostRows);   // outside the timed calls: it walks the model's modules
                return GemmTimer.Best(Pass, CPU, slice / 4, 20);
            }
            double oneDnn = double.MaxValue, host = double.MaxValue;
            for (int round = 0; round < 2; round++)
            {
                oneDnn = Math.Min(oneDnn, Time(0));
                host = Math.Min(host, Time(r));
            }
            timings.Add((r, oneDnn, host));
            if (host >= oneDnn) break;
            chosen = r;
        }
        PackedLinear.SetHostRows(model, chosen);
        return new HostRowsChoice(chosen, string.Create(CultureInfo.InvariantCulture,
            $"{pass.Count} products, {bytes / 1e6:F0} MB; probe {clock.Elapsed.TotalSeconds:F2} s"), timings);
    }
}
