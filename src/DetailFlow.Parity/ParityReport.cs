using System.Globalization;
using TorchSharp;
using static TorchSharp.torch;

namespace DetailFlow.Parity;

/// <summary>
/// The comparisons made for one fixture case: float tensors against a tolerance (max abs diff), integer tensors,
/// masks and tables exactly (mismatch count). A case passes when every comparison does and nothing failed outright.
/// </summary>
public sealed class ParityReport(string caseName, string kind)
{
    private readonly List<string> _failures = [];
    private readonly List<string> _details = [];

    public string Case { get; } = caseName;
    public string Kind { get; } = kind;
    public double MaxAbsDiff { get; private set; }
    public long Mismatches { get; private set; }
    public int FloatComparisons { get; private set; }
    public int ExactComparisons { get; private set; }
    public IReadOnlyList<string> Failures => _failures;
    public IReadOnlyList<string> Details => _details;
    public bool Passed => _failures.Count == 0 && FloatComparisons + ExactComparisons > 0;

    /// <summary>Float comparison: fails when shapes differ or max |actual − expected| &gt; <paramref name="atol"/>.</summary>
    public double Close(string what, Tensor actual, Tensor expected, double atol)
    {
        FloatComparisons++;
        if (!actual.shape.SequenceEqual(expected.shape))
        {
            _failures.Add($"{what}: shape [{string.Join(",", actual.shape)}] != expected [{string.Join(",", expected.shape)}]");
            return double.PositiveInfinity;
        }
        using var scope = torch.NewDisposeScope();
        double diff = actual.numel() == 0 ? 0 : (actual.to(float64) - expected.to(float64)).abs().max().item<double>();
        if (double.IsNaN(diff)) diff = double.PositiveInfinity;
        MaxAbsDiff = Math.Max(MaxAbsDiff, diff);
        _details.Add(string.Create(CultureInfo.InvariantCulture, $"{what}: max abs diff {diff:0.00E+00} (atol {atol:0E+00})"));
        if (diff > atol) _failures.Add(string.Create(CultureInfo.InvariantCulture, $"{what}: max abs diff {diff:0.000E+00} > {atol:0E+00}"));
        return diff;
    }

    /// <summary>Exact comparison (indices, masks, tables): fails on any differing element or shape.</summary>
    public long Exact(string what, Tensor actual, Tensor expected)
    {
        ExactComparisons++;
        if (!actual.shape.SequenceEqual(expected.shape))
        {
            _failures.Add($"{what}: shape [{string.Join(",", actual.shape)}] != expected [{string.Join(",", expected.shape)}]");
            return long.MaxValue;
        }
        using var scope = torch.NewDisposeScope();
        long bad = actual.to(float64).ne(expected.to(float64)).sum().item<long>();
        Mismatches += bad;
        _details.Add($"{what}: {bad} mismatches of {actual.numel()}");
        if (bad > 0) _failures.Add($"{what}: {bad} of {actual.numel()} elements differ");
        return bad;
    }

    /// <summary>Exact comparison of plain values (e.g. JSON tables).</summary>
    public void Equal<T>(string what, T actual, T expected)
    {
        ExactComparisons++;
        if (!EqualityComparer<T>.Default.Equals(actual, expected))
        {
            Mismatches++;
            _failures.Add($"{what}: {actual} != expected {expected}");
        }
    }

    public void Fail(string what, string message) => _failures.Add($"{what}: {message}");

    public string Summary()
    {
        string measure = FloatComparisons > 0
            ? string.Create(CultureInfo.InvariantCulture, $"max abs diff {MaxAbsDiff:0.00E+00}") + (ExactComparisons > 0 ? $", {Mismatches} mismatches" : "")
            : $"{Mismatches} mismatches";
        return $"{Kind,-18} {Case,-42} {measure,-40} {(Passed ? "PASS" : "FAIL")}";
    }
}
