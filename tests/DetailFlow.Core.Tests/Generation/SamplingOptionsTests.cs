using DetailFlow.Core.Generation;
using DetailFlow.Core.Gpt;

namespace DetailFlow.Core.Tests.Generation;

public class SamplingOptionsTests
{
    private static readonly GptConfig Config = new() { Dim = 64, NLayer = 1, NHead = 4, VocabSize = 64, NumClasses = 10, BlockSize = 32, GroupSize = 4 };

    public static TheoryData<SamplingOptions, string> BadOptions() => new()
    {
        { new SamplingOptions { Temperature = -0.5 }, nameof(SamplingOptions.Temperature) },
        { new SamplingOptions { Temperature = double.NaN }, nameof(SamplingOptions.Temperature) },
        { new SamplingOptions { TopK = 0 }, nameof(SamplingOptions.TopK) },
        { new SamplingOptions { TopK = 65 }, nameof(SamplingOptions.TopK) },
        { new SamplingOptions { TopK = -3 }, nameof(SamplingOptions.TopK) },
        { new SamplingOptions { TopP = 0 }, nameof(SamplingOptions.TopP) },
        { new SamplingOptions { TopP = 1.01 }, nameof(SamplingOptions.TopP) },
        { new SamplingOptions { TopP = -0.2 }, nameof(SamplingOptions.TopP) },
        { new SamplingOptions { CfgScale = 0.5 }, nameof(SamplingOptions.CfgScale) },
        { new SamplingOptions { CfgScale = double.PositiveInfinity }, nameof(SamplingOptions.CfgScale) },
    };

    [Theory]
    [MemberData(nameof(BadOptions))]
    public void Validate_BadField_ThrowsNamingTheField(SamplingOptions options, string field)
    {
        var e = Assert.ThrowsAny<ArgumentException>(() => options.Validate(Config));
        Assert.Equal(field, e.ParamName);
        Assert.Contains(field, e.Message);
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(10)]   // the null class is not a request class
    [InlineData(1000)]
    public void Validate_UnknownClass_ThrowsNamingTheLabel(long label)
    {
        var e = Assert.ThrowsAny<ArgumentException>(() => new SamplingOptions().Validate(Config, [3, label]));
        Assert.Equal("ClassLabel", e.ParamName);
        Assert.Contains(label.ToString(System.Globalization.CultureInfo.InvariantCulture), e.Message);
    }

    [Fact]
    public void Validate_GuidanceWithoutNullClass_IsRejected()
    {
        var noNull = Config with { ClassDropoutProb = 0 };
        var e = Assert.ThrowsAny<ArgumentException>(() => new SamplingOptions { CfgScale = 2 }.Validate(noNull));
        Assert.Equal(nameof(SamplingOptions.CfgScale), e.ParamName);
        new SamplingOptions { CfgScale = 1 }.Validate(noNull);
    }

    [Fact]
    public void Validate_EdgeValues_AreAccepted()
    {
        new SamplingOptions { Temperature = 0, TopK = 1, TopP = 1, CfgScale = 1 }.Validate(Config, [0, 9]);
        new SamplingOptions { TopK = 64, TopP = 1e-6, CfgScale = 7.5, GradualCfg = true, Greedy = true, Seed = -5 }.Validate(Config);
        Assert.False(new SamplingOptions { CfgScale = 1 }.UsesGuidance);
        Assert.True(new SamplingOptions().UsesGuidance);
    }
}
