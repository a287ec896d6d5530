using DetailFlow.Core.Imaging;
using DetailFlow.Parity;
using TorchSharp;
using Xunit.Abstractions;

namespace DetailFlow.Core.Tests.Imaging;

/// <summary>Process-wide memory measurements: never run beside other tests (they load models of their own).</summary>
[CollectionDefinition(nameof(ProcessMemoryCollection), DisableParallelization = true)]
public sealed class ProcessMemoryCollection;

[Collection(nameof(ProcessMemoryCollection))]
public class DecoderMemoryTests(ITestOutputHelper output)
{
    private const int WarmupIterations = 20;
    private const int MeasuredIterations = 200;
    private const double AllowedGrowthMb = 30;

    /// <summary>
    /// 200 steps of previews (4 items, 2 resolutions, one padded batch) plus a full decode. Two checks: no tensor stays
    /// alive (TorchSharp's live count on this thread returns to its start: exact, and independent of the GC, since a
    /// tensor freed by a finalizer is counted on the finalizer thread), and resident memory after a full collection
    /// stays within a small bound. (Without the collection RSS also grows while the runtime fills its gen-0 budget with
    /// short-lived wrappers, about 50 kB per decode, which is the GC's memory, not a leak.)
    /// </summary>
    [Fact]
    public void TwoHundredDecodesLeaveNoTensorAliveAndNativeMemoryFlat()
    {
        using var model = TokenizerFixtureModel.Load(TestFixtures.Set, decoderOnly: true);
        var previews = new PreviewDecoder(model, t => t < 4 ? 4 : 32);
        var codes = Enumerable.Range(0, 32).Select(i => (long)(i * 7 % 64)).ToArray();
        PreviewItem[] items = [new(codes, 2), new(codes, 3), new(codes, 32), new(codes, 16)];

        void Step()
        {
            foreach (var p in previews.DecodePixels(items)) p.Dispose();
            using var codeTensor = torch.tensor(codes, [1, 32]);
            using var pixels = model.Decode(codeTensor, 32, 32);
        }

        for (int i = 0; i < WarmupIterations; i++) Step();
        var stats = DisposeScopeManager.Statistics;
        long liveBefore = stats.ThreadTotalLiveCount;
        double rssBefore = ResidentMbAfterCollection();
        for (int i = 0; i < MeasuredIterations; i++) Step();
        long liveAfter = stats.ThreadTotalLiveCount;
        double growth = ResidentMbAfterCollection() - rssBefore;
        output.WriteLine($"live tensors {liveBefore} → {liveAfter}; RSS {rssBefore:F1} MB, +{growth:F1} MB");

        Assert.Equal(liveBefore, liveAfter);
        Assert.True(growth < AllowedGrowthMb, $"RSS grew {growth:F1} MB over {MeasuredIterations} iterations");
    }

    private static double ResidentMbAfterCollection()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        string line = File.ReadLines("/proc/self/status").First(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
        return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]) / 1024.0; // kB → MB
    }
}
