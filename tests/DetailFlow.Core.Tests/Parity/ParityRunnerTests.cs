using DetailFlow.Parity;

namespace DetailFlow.Core.Tests.Parity;

public class ParityRunnerTests
{
    /// <summary>The same checker as <c>detailflow parity</c>, over the whole shared fixtures folder.</summary>
    [Fact]
    public void EveryModelAndCaseOfTheSharedFixturesPasses()
    {
        var reports = ParityRunner.Run(TestFixtures.Root).ToList();
        var failed = reports.Where(r => !r.Passed).Select(r => r.Summary() + "\n  " + string.Join("\n  ", r.Failures)).ToList();
        Assert.True(failed.Count == 0, string.Join("\n", failed));
        // Every case file of the folder was checked (and the three model folders).
        Assert.Equal(TestFixtures.Set.CaseNames.Count + 3, reports.Count);
        Assert.DoesNotContain(reports, r => r.Kind == "unknown");
    }

    /// <summary>
    /// A folder made the fixtures' way whose tags say nothing of their parameters (README "Reading a fixtures folder
    /// generally"): every parameter comes from the manifests, so the renamed copy passes exactly as the original.
    /// </summary>
    [Fact]
    public void AFolderWithOpaqueTagsPassesLikeTheOriginal()
    {
        using var opaque = new OpaqueFixtures();
        var reports = ParityRunner.Run(opaque.Root).ToList();
        var failed = reports.Where(r => !r.Passed).Select(r => r.Summary() + "\n  " + string.Join("\n  ", r.Failures)).ToList();
        Assert.True(failed.Count == 0, string.Join("\n", failed));
        Assert.Equal(TestFixtures.Set.CaseNames.Count + 3, reports.Count);
        var rope = reports.Single(r => r.Case == GptRopeAndMaskCase.Name);
        Assert.Equal(8, rope.FloatComparisons + rope.ExactComparisons); // 5 rotary tables + 3 masks, none skipped
    }

    /// <summary>The parameters are read, not assumed: a changed causal_num or mask call fails the tables it describes.</summary>
    [Theory]
    [InlineData("ra", "causal_num", "8", "ra_group_causal_mask")]
    [InlineData("rc mask", "call", "create_group_causal_mask(128, 8, 16)", "rc_group_causal_mask")]
    [InlineData("rd", "call", "precompute_freqs_cis_2d_nonsquare(32, 8, 64, 500, 1)", "rd_freqs_cis")]
    public void ATableIsCheckedAgainstItsOwnEntry(string tag, string field, string value, string failingTensor)
    {
        using var opaque = new OpaqueFixtures(meta =>
            OpaqueFixtures.Table(meta, tag)[field] = field == "call" ? value : int.Parse(value));
        var report = new ParityReport(GptRopeAndMaskCase.Name, "gpt_rope_and_mask");
        new GptRopeAndMaskCase().Check(new FixtureSet(opaque.Root), GptRopeAndMaskCase.Name, report, CancellationToken.None);
        Assert.NotEmpty(report.Failures);
        Assert.All(report.Failures, f => Assert.StartsWith(failingTensor + ":", f));
    }

    [Fact]
    public void UnknownCaseKindAndMissingTensorAreFailuresNotSkips()
    {
        string dir = Directory.CreateTempSubdirectory("df-parity-").FullName;
        try
        {
            Directory.CreateDirectory(Path.Combine(dir, "cases"));
            File.WriteAllText(Path.Combine(dir, "cases", "mystery_case.json"), """{"bin_file":"mystery_case.bin","meta":{},"tensors":[]}""");
            File.WriteAllBytes(Path.Combine(dir, "cases", "mystery_case.bin"), []);
            // A vq_quantizer case whose index names no tensors: the checker must fail on the missing tensor.
            File.WriteAllText(Path.Combine(dir, "cases", "vq_quantizer.json"), """{"bin_file":"vq_quantizer.bin","meta":{},"tensors":[]}""");
            File.WriteAllBytes(Path.Combine(dir, "cases", "vq_quantizer.bin"), []);
            var reports = ParityRunner.Run(dir).ToList();
            Assert.Equal(2, reports.Count);
            Assert.All(reports, r => Assert.False(r.Passed));
            Assert.Contains(reports, r => r.Kind == "unknown");
        }
        finally { Directory.Delete(dir, recursive: true); }
    }
}
