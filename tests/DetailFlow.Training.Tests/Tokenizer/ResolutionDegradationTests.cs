using DetailFlow.Core.Generation;
using DetailFlow.Core.Tokenizer;
using DetailFlow.Training.Tokenizer;
using TorchSharp;
using static TorchSharp.torch;

namespace DetailFlow.Training.Tests.Tokenizer;

public class ResolutionDegradationTests
{
    private static readonly ResolutionDegradation Released = new(ResolutionSchedule.For(TokenizerPresets.DetailFlow16));

    [Fact]
    public void Sample_DrawsOnlyScheduleLengths_AndKeepsFullSizeWithoutDegradation()
    {
        var rng = new Random(1);
        var seen = new HashSet<int>();
        for (int i = 0; i < 2000; i++)
        {
            var (t, r, d) = Released.Sample(1.0, rng);
            Assert.True(t >= 1 && t <= 120, $"t = {t}");
            Assert.True(t <= 8 || t % 8 == 0, $"t = {t} is not on the schedule");
            Assert.Equal(Released.Schedule.Resolution(t), r);
            Assert.Equal(Released.Schedule.DecoderResolution(t), d);
            seen.Add(t);
        }
        Assert.Contains(1, seen);
        Assert.Contains(120, seen);
        Assert.DoesNotContain(128, seen);
        Assert.Equal((128, 256, 256), Released.Sample(0.0, rng));
        // N = 128: t = 16 → r 44, d 48 (spec §5 table).
        Assert.Equal(44, Released.Schedule.Resolution(16));
    }

    [Fact]
    public void NoiseIndex_FollowsTheOfficialRule()
    {
        var rng = new Random(2);
        Assert.Null(Released.NoiseIndex(1, rng));
        for (int i = 0; i < 500; i++)
        {
            int causal = Released.NoiseIndex(5, rng)!.Value;
            Assert.InRange(causal, 0, 4);
            int later = Released.NoiseIndex(64, rng)!.Value;
            Assert.InRange(later, 0, 55);
            Assert.True(later < 8 || later % 8 == 0, $"noise index {later} past C must be a group start");
        }
        Assert.Throws<ArgumentOutOfRangeException>(() => Released.NoiseIndex(13, rng));
    }

    [Fact]
    public void Target_ShrinksWithAreaThenEnlargesBicubically()
    {
        using var scope = NewDisposeScope();
        var x = torch.rand(2, 3, 256, 256) * 2 - 1;
        var target = ResolutionDegradation.Target(x, 44, 48);
        Assert.Equal(new long[] { 2, 3, 48, 48 }, target.shape);
        var area = nn.functional.interpolate(x, [44, 44], mode: InterpolationMode.Area);
        var expected = nn.functional.interpolate(area, [48, 48], mode: InterpolationMode.Bicubic, align_corners: false);
        Assert.Equal(0f, (target - expected).abs().max().item<float>());
        Assert.Equal(0f, (ResolutionDegradation.Target(x, 256, 256) - x).abs().max().item<float>());
    }
}
