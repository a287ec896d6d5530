using DetailFlow.Core.Generation;
using DetailFlow.Core.Gpt;
using DetailFlow.Core.Tests.Gpt;

namespace DetailFlow.Core.Tests.Generation;

public sealed class RecomputeSamplerTests : IDisposable
{
    private readonly GptTransformer _model = GptTestModels.Tiny("tiny_c4");

    [Fact]
    public void Generate_SampledRow_DoesNotDependOnItsBatch()
    {
        var a = new SamplingOptions { CfgScale = 2.0, Seed = 42, TopK = 20 };
        var b = new SamplingOptions { CfgScale = 1.0, Seed = 7 };
        var sampler = new RecomputeSampler(_model);
        var alone = sampler.Generate([3], [a]);
        var together = sampler.Generate([5, 3, 1], [b, a, b with { Seed = 8 }]);
        Assert.Equal(alone[0], together[1]);
        Assert.Equal(_model.Config.BlockSize, alone[0].Length);
        Assert.All(together.SelectMany(c => c), c => Assert.InRange(c, 0, _model.Config.VocabSize - 1));
    }

    [Fact]
    public void Generate_BadRequest_IsRejectedNamingTheProblem()
    {
        var sampler = new RecomputeSampler(_model);
        Assert.Equal("TopK", Assert.ThrowsAny<ArgumentException>(() => sampler.Generate([1], [new SamplingOptions { TopK = 0 }])).ParamName);
        Assert.Equal("ClassLabel", Assert.ThrowsAny<ArgumentException>(() => sampler.Generate([10], [new SamplingOptions()])).ParamName);
        Assert.Equal("codeCount", Assert.ThrowsAny<ArgumentException>(() => sampler.Generate([1], [new SamplingOptions()], codeCount: 30)).ParamName);
    }

    public void Dispose() => _model.Dispose();
}
