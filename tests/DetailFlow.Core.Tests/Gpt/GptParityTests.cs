using DetailFlow.Parity;

namespace DetailFlow.Core.Tests.Gpt;

/// <summary>The GPT fixture cases, checked through the same <see cref="IParityCase"/> classes as <c>detailflow parity</c>.</summary>
public class GptParityTests
{
    public static TheoryData<string> GptCaseNames()
    {
        var data = new TheoryData<string>();
        foreach (var name in TestFixtures.Set.CaseNames.Where(n => n.StartsWith("gpt_", StringComparison.Ordinal))) data.Add(name);
        return data;
    }

    [Fact]
    public void GptCases_AreAllPresentAndHandled()
    {
        var names = TestFixtures.Set.CaseNames.Where(n => n.StartsWith("gpt_", StringComparison.Ordinal)).ToList();
        Assert.Contains("gpt_rope_and_mask", names);
        Assert.Contains(names, n => n.StartsWith("gpt_forward_", StringComparison.Ordinal));
        Assert.Contains(names, n => n.StartsWith("gpt_generate_", StringComparison.Ordinal) && n.EndsWith("_gradual", StringComparison.Ordinal));
        Assert.All(names, n => Assert.Single(ParityCases.All, c => c.Handles(n)));
    }

    [Theory]
    [MemberData(nameof(GptCaseNames))]
    public void GptCase_MatchesOfficialFixture(string caseName)
    {
        var kind = ParityCases.All.Single(c => c.Handles(caseName));
        var report = Run(kind, caseName);
        Assert.True(report.Passed, $"{report.Summary()}\n{string.Join("\n", report.Failures)}");
        Assert.True(report.FloatComparisons + report.ExactComparisons >= 3, report.Summary());
    }

    internal static ParityReport Run(IParityCase kind, string caseName)
    {
        var report = new ParityReport(caseName, kind.Kind);
        using var noGrad = TorchSharp.torch.no_grad();
        using var scope = TorchSharp.torch.NewDisposeScope();
        kind.Check(TestFixtures.Set, caseName, report, CancellationToken.None);
        foreach (var d in report.Details) Console.WriteLine($"{caseName}: {d}");
        return report;
    }
}
