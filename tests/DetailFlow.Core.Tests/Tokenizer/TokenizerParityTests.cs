using DetailFlow.Parity;
using TorchSharp;
using Xunit.Abstractions;

namespace DetailFlow.Core.Tests.Tokenizer;

/// <summary>Each tokenizer case of shared/fixtures/detailflow through its parity class (the same checker the CLI runs).</summary>
public class TokenizerParityTests(ITestOutputHelper output)
{
    public static TheoryData<string> Cases => new() { "tokenizer_encode", "tokenizer_decode", "vq_quantizer", "xz_attention_masks" };

    [Theory]
    [MemberData(nameof(Cases))]
    public void CaseMatchesTheOfficialFixture(string caseName)
    {
        var kind = ParityCases.All.Single(c => c.Handles(caseName));
        var report = new ParityReport(caseName, kind.Kind);
        using (torch.no_grad())
        using (torch.NewDisposeScope())
            kind.Check(TestFixtures.Set, caseName, report, CancellationToken.None);
        foreach (var line in report.Details) output.WriteLine(line);
        Assert.True(report.Passed, string.Join("\n", report.Failures.Concat(report.Details)));
        Assert.True(report.FloatComparisons + report.ExactComparisons >= 3);
    }

    [Fact]
    public void EncodeCaseChecksEveryNamedPrefixAndReconstruction()
    {
        var kind = ParityCases.All.Single(c => c.Handles("tokenizer_encode"));
        var report = new ParityReport("tokenizer_encode", kind.Kind);
        using (torch.no_grad())
        using (torch.NewDisposeScope())
            kind.Check(TestFixtures.Set, "tokenizer_encode", report, CancellationToken.None);
        var compared = report.Details.Select(d => d[..d.IndexOf(':')]).ToHashSet();
        Assert.Superset(new HashSet<string> { "quant_cur16", "indices_cur16", "recon_t16", "recon_full", "indices", "quant", "avg_cos_sim" }, compared);
    }
}
