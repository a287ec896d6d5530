using DetailFlow.Cli.Commands;
using DetailFlow.Core.Generation;
using DetailFlow.Core.Gpt;
using DetailFlow.Core.Tests;

namespace DetailFlow.Cli.Tests;

/// <summary>
/// <c>sample</c>, <c>contact-sheet</c> and <c>eval-default</c> generate through <see cref="EngineGeneration"/>; it must
/// give the codes of the reference algorithm (<see cref="RecomputeSampler"/>) for the same classes, options and seeds,
/// also when more rows are asked than generate at once.
/// </summary>
public class EngineGenerationTests
{
    [Fact]
    public void GivesTheReferenceCodesForTheSameSeeds()
    {
        string dir = Path.Combine(TestFixtures.Root, TestFixtures.Set.GptTags.Select(t => "gpt_" + t).First());
        using var gpt = GptTransformer.Load(Path.Combine(dir, "checkpoint.pt"), GptConfig.Load(Path.Combine(dir, "config.json")));
        int count = 2 * EngineGeneration.MaxConcurrent + 5;
        var classes = Enumerable.Range(0, count).Select(i => (long)(i % gpt.Config.NumClasses)).ToArray();
        var options = Enumerable.Range(0, count).Select(i => (i % 3) switch
        {
            0 => new SamplingOptions { Seed = 100 + i, CfgScale = 1.5 },
            1 => new SamplingOptions { Seed = 100 + i, CfgScale = 4.0, TopK = 8, TopP = 0.9, Temperature = 1.2 },
            _ => new SamplingOptions { Seed = 100 + i, CfgScale = 1.0, Temperature = 0.8 },
        }).ToArray();

        var expected = new RecomputeSampler(gpt).Generate(classes, options);
        var actual = EngineGeneration.Generate(gpt, classes, options);

        Assert.Equal(expected, actual);
        Assert.Equal(count, actual.Distinct(new CodesComparer()).Count()); // different seeds, different images: the check can fail
    }

    private sealed class CodesComparer : IEqualityComparer<long[]>
    {
        public bool Equals(long[]? x, long[]? y) => x.AsSpan().SequenceEqual(y);
        public int GetHashCode(long[] obj) => obj.Length == 0 ? 0 : HashCode.Combine(obj[0], obj[^1], obj.Length);
    }
}
