using DetailFlow.Cli.Bench;
using DetailFlow.Core.Tests;
using DetailFlow.Parity;

namespace DetailFlow.Cli.Tests;

public class DecoderBenchmarkTests
{
    [Fact]
    public void ScheduledPointsTakeTheLongestPrefixOfEachResolution()
    {
        // DetailFlow-16 schedule, spec §5 table (t → d_t).
        var d = new Dictionary<int, int>
        {
            [1] = 16, [2] = 16, [3] = 16, [4] = 16, [5] = 16, [6] = 16, [7] = 32, [8] = 32, [16] = 48, [24] = 80,
            [32] = 96, [40] = 112, [48] = 128, [56] = 160, [64] = 176, [72] = 192, [80] = 208, [88] = 224, [96] = 224,
            [104] = 240, [112] = 256, [120] = 256, [128] = 256,
        };
        var points = DecoderBenchmark.ScheduledPoints(d.Keys, t => d[t]);
        Assert.Equal(
            [(6, 16), (8, 32), (16, 48), (24, 80), (32, 96), (40, 112), (48, 128), (56, 160), (64, 176), (72, 192), (80, 208), (96, 224), (104, 240), (128, 256)],
            points);
    }

    [Fact]
    public void RunReportsOneTimingPerPointWithMedianNotBelowMinimum()
    {
        using var model = TokenizerFixtureModel.Load(TestFixtures.Set, decoderOnly: true);
        var timings = DecoderBenchmark.Run(model, [(3, 4), (32, 32)], warmup: 1, runs: 3);
        Assert.Equal([(3, 4), (32, 32)], timings.Select(x => (x.T, x.Resolution)));
        Assert.All(timings, x => Assert.True(x.MinMs > 0 && x.MedianMs >= x.MinMs && x.Runs == 3));
    }

    [Fact]
    public void RunTimesAnyBackendAtTheGivenBatch()
    {
        using var model = TokenizerFixtureModel.Load(TestFixtures.Set, decoderOnly: true);
        using var onnx = DetailFlow.Core.Decoding.OnnxDecoderBackend.Create(model, new() { IntraOpThreads = 1 });
        var timings = DecoderBenchmark.Run(onnx, model.Config.CodebookSize, [(3, 4), (32, 32)], batch: 8, warmup: 1, runs: 3);
        Assert.Equal([(3, 4, 8), (32, 32, 8)], timings.Select(x => (x.T, x.Resolution, x.Batch)));
        Assert.All(timings, x => Assert.True(x.MinMs > 0 && x.MedianMs >= x.MinMs && x.Runs == 3));
        Assert.Throws<ArgumentOutOfRangeException>(() => DecoderBenchmark.Run(onnx, model.Config.CodebookSize, [(3, 4)], batch: 0));
    }
}
