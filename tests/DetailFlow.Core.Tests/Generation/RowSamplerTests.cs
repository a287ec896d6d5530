using DetailFlow.Core.Generation;
using TorchSharp;
using static TorchSharp.torch;

namespace DetailFlow.Core.Tests.Generation;

public class RowSamplerTests
{
    private static SamplingOptions Sampled(long seed, int? topK = null, double topP = 1.0, double temperature = 1.0) =>
        new() { Seed = seed, TopK = topK, TopP = topP, Temperature = temperature };

    [Fact]
    public void Sample_RowDrawsDoNotDependOnTheOtherRows()
    {
        using var scope = torch.NewDisposeScope();
        using var sampler = new RowSampler();
        torch.manual_seed(3);
        var logits = torch.randn(6, 512) * 0.5;
        var options = Enumerable.Range(0, 6).Select(i => Sampled(100 + i, topK: i % 2 == 0 ? null : 50)).ToArray();
        int[] codeIndex = [0, 5, 9, 9, 17, 31];
        var all = sampler.Sample(logits, options, codeIndex);
        var rows = new long[] { 4, 1, 3 };
        var some = sampler.Sample(logits.index_select(0, torch.tensor(rows)), rows.Select(r => options[r]).ToArray(), rows.Select(r => codeIndex[r]).ToArray());
        Assert.Equal(rows.Select(r => all[r]), some);
        Assert.Equal(all, sampler.Sample(logits, options, codeIndex));   // reproducible
    }

    [Fact]
    public void Sample_StreamsDifferByCodeIndexAndSeed()
    {
        using var scope = torch.NewDisposeScope();
        using var sampler = new RowSampler();
        var logits = torch.zeros(40, 1000);                                       // uniform over 1000 ids
        var byIndex = sampler.Sample(logits, Enumerable.Repeat(Sampled(7), 40).ToArray(), Enumerable.Range(0, 40).ToArray());
        var bySeed = sampler.Sample(logits, Enumerable.Range(0, 40).Select(s => Sampled(s)).ToArray(), Enumerable.Repeat(3, 40).ToArray());
        Assert.True(byIndex.Distinct().Count() > 30, string.Join(",", byIndex));
        Assert.True(bySeed.Distinct().Count() > 30, string.Join(",", bySeed));
    }

    [Fact]
    public void Sample_FollowsTheDistribution()
    {
        using var scope = torch.NewDisposeScope();
        using var sampler = new RowSampler();
        double[] p = [0.6, 0.3, 0.1, 0.0];
        const int draws = 3000;
        var logits = torch.tensor(p.Select(x => (float)Math.Log(x)).ToArray(), [1, 4]).expand(draws, 4);
        var codes = sampler.Sample(logits, Enumerable.Repeat(Sampled(11), draws).ToArray(), Enumerable.Range(0, draws).ToArray());
        for (int id = 0; id < 4; id++)
        {
            double freq = codes.Count(c => c == id) / (double)draws;
            Assert.True(Math.Abs(freq - p[id]) < 0.03, $"id {id}: frequency {freq:F3}, probability {p[id]}");
        }
    }

    [Fact]
    public void Sample_GreedyAndTopK1_ReturnTheArgMax()
    {
        using var scope = torch.NewDisposeScope();
        using var sampler = new RowSampler();
        var logits = torch.randn(5, 300);
        var expected = logits.argmax(-1).data<long>().ToArray();
        var indices = Enumerable.Range(0, 5).ToArray();
        Assert.Equal(expected, sampler.Sample(logits, Enumerable.Repeat(new SamplingOptions { Greedy = true }, 5).ToArray(), indices));
        Assert.Equal(expected, sampler.Sample(logits, Enumerable.Repeat(Sampled(1, topK: 1), 5).ToArray(), indices));
        Assert.Equal(expected, sampler.Sample(logits, Enumerable.Repeat(Sampled(1, temperature: 0), 5).ToArray(), indices));
    }

    [Fact]
    public void Sample_TopK_NeverDrawsOutsideTheTopK()
    {
        using var scope = torch.NewDisposeScope();
        using var sampler = new RowSampler();
        var logits = torch.randn(1, 200).expand(500, 200);
        var allowed = torch.topk(logits[0], 5).indices.data<long>().ToHashSet();
        var codes = sampler.Sample(logits, Enumerable.Repeat(Sampled(2, topK: 5, temperature: 3), 500).ToArray(), Enumerable.Range(0, 500).ToArray());
        Assert.All(codes, c => Assert.Contains(c, allowed));
        Assert.Equal(5, codes.Distinct().Count());
    }
}
