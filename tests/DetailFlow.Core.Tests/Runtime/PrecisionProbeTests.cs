using DetailFlow.Core.Gpt;
using DetailFlow.Core.Runtime;
using DetailFlow.Core.Tokenizer;
using TorchSharp;
using static TorchSharp.torch;

namespace DetailFlow.Core.Tests.Runtime;

public class PrecisionProbeTests
{
    private static readonly GptConfig s_gpt = new() { Dim = 64, NLayer = 2, NHead = 2, VocabSize = 128, NumClasses = 10, BlockSize = 32, GroupSize = 4, CausalNum = 4, MultipleOf = 32 };

    [Fact]
    public void GptShapes_CountEveryLinearWeightOnce_AndScaleWithPositions()
    {
        var one = StepShapes.Gpt(s_gpt, 8);
        var many = StepShapes.Gpt(s_gpt, 64);
        torch.manual_seed(0);
        using var model = new GptTransformer(s_gpt);
        long linearWeights = model.named_parameters().Where(p => p.name.EndsWith(".weight", StringComparison.Ordinal) && p.parameter.dim() == 2
            && !p.name.Contains("embedding", StringComparison.Ordinal)).Sum(p => p.parameter.numel());
        Assert.Equal(linearWeights, StepShapes.WeightElements(one));
        Assert.Equal(8 * StepShapes.Flops(one), StepShapes.Flops(many), 6);
        Assert.Equal(2.0 * 8 * linearWeights, StepShapes.Flops(one), 6);
    }

    [Fact]
    public void GptSteps_CausalCodesOneByOne_ThenGroups()
    {
        // C = 4, G = 4, N = 32: codes 0..3 one per step (4 steps), then 28 codes in groups of 4 (7 steps).
        Assert.Equal(11, StepShapes.GptSteps(s_gpt));
    }

    [Fact]
    public void DecoderShapes_CoverTheGridAndTheLatents()
    {
        var config = TokenizerPresets.DetailFlow16;
        var shapes = StepShapes.Decoder(config, 2);
        long grid = config.ImageSize / config.Dec.PatchSize;
        Assert.Equal(2 * (grid * grid + config.NumLatentTokens), shapes[0].M);
        Assert.Equal(2 * grid * grid, shapes[^1].M);
    }

    [Fact]
    public void Choose_OnCpu_TimesEveryCandidate_AndPicksTheLowestScore()
    {
        var workload = new ProbeWorkload("test", StepShapes.Gpt(s_gpt, 8), StepShapes.Gpt(s_gpt, 64));
        var choice = PrecisionProbe.Choose(workload, CPU, TimeSpan.FromSeconds(1));
        Assert.Equal(ModelPrecisions.Candidates.Count, choice.Timings.Count);
        Assert.All(choice.Timings, t => Assert.True(t.SingleSeconds > 0 && t.SaturatedSeconds > 0 && t.SingleGflops > 0));
        var fp32 = choice.Timings.Single(t => t.DType == ScalarType.Float32);
        var chosen = choice.Timings.Single(t => t.DType == choice.Chosen);
        Assert.All(choice.Timings, t => Assert.True(
            chosen.SingleSeconds / fp32.SingleSeconds + chosen.SaturatedSeconds / fp32.SaturatedSeconds
            <= t.SingleSeconds / fp32.SingleSeconds + t.SaturatedSeconds / fp32.SaturatedSeconds));
        Assert.Contains(choice.Name, choice.Describe());
    }

    [Fact]
    public void Choose_WithNoBudget_StillMeasuresTheLargestShapeOfEachWorkload()
    {
        var workload = new ProbeWorkload("test", StepShapes.Gpt(s_gpt, 8), StepShapes.Gpt(s_gpt, 64));
        var choice = PrecisionProbe.Choose(workload, CPU, TimeSpan.Zero);
        Assert.Equal(ModelPrecisions.Candidates.Count, choice.Timings.Count);
        // Only the largest shape at each size was timed: the rates cover its FLOPs alone.
        var largest = workload.Single.MaxBy(s => s.Flops);
        var fp32 = choice.Timings.Single(t => t.DType == ScalarType.Float32);
        Assert.Equal(largest.Flops / fp32.SingleSeconds / 1e9, fp32.SingleGflops, 6);
    }

    [Fact]
    public void Pick_WithoutFp32_FallsBackToFp32()
    {
        var choice = PrecisionProbe.Pick("test", [new PrecisionTiming(ScalarType.BFloat16, 1, 1, 1, 1)], 0);
        Assert.Equal(ScalarType.Float32, choice.Chosen);
    }

    [Theory]
    [InlineData("auto", ModelPrecision.Auto)]
    [InlineData("fp32", ModelPrecision.Float32)]
    [InlineData("BF16", ModelPrecision.BFloat16)]
    [InlineData("Float16", ModelPrecision.Float16)]
    public void TryParse_AcceptsShortAndEnumNames(string text, ModelPrecision expected)
    {
        Assert.True(ModelPrecisions.TryParse(text, out var p));
        Assert.Equal(expected, p);
    }

    [Fact]
    public void TryParse_RejectsOthers() => Assert.False(ModelPrecisions.TryParse("int8", out _));
}
