using DetailFlow.Core.Parity;

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
