using TorchSharp;

namespace DetailFlow.Parity;

/// <summary>
/// Runs every model and case of a fixtures folder (<c>detailflow parity</c> and the test suite use this one checker).
/// A case whose kind is unknown, whose tensor is missing or whose check throws is a failure, never a skip.
/// </summary>
public static class ParityRunner
{
    /// <param name="cases">The case kinds to dispatch to (default <see cref="ParityCases.All"/>; e.g. with the decode case on another backend).</param>
    public static IEnumerable<ParityReport> Run(string fixturesDir, CancellationToken cancellationToken = default,
        IReadOnlyList<IParityCase>? cases = null)
    {
        cases ??= ParityCases.All;
        var fixtures = new FixtureSet(fixturesDir);
        foreach (var (name, check) in ModelChecks(fixtures))
            yield return Guarded(name, "checkpoint", r => check(r));
        foreach (var name in fixtures.CaseNames)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var kind = cases.FirstOrDefault(c => c.Handles(name));
            yield return kind is null
                ? Unknown(name)
                : Guarded(name, kind.Kind, r => kind.Check(fixtures, name, r, cancellationToken));
        }
    }

    private static IEnumerable<(string Name, Action<ParityReport> Check)> ModelChecks(FixtureSet fixtures)
    {
        foreach (var tag in fixtures.GptTags)
            yield return ("gpt_" + tag, r => CheckpointParity.CheckGpt(fixtures.GptDir(tag), r));
        foreach (var tag in fixtures.VqTags)
            yield return ("vq_" + tag, r => CheckpointParity.CheckTokenizer(fixtures.VqDir(tag), r));
    }

    private static ParityReport Unknown(string name)
    {
        var report = new ParityReport(name, "unknown");
        report.Fail(name, "unknown case kind");
        return report;
    }

    private static ParityReport Guarded(string name, string kind, Action<ParityReport> check)
    {
        var report = new ParityReport(name, kind);
        using var noGrad = torch.no_grad();
        using var scope = torch.NewDisposeScope();
        try
        {
            check(report);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // One failing case must not hide the others: it is reported as a FAIL with its message.
            report.Fail(name, $"{e.GetType().Name}: {e.Message}");
        }
        return report;
    }
}
