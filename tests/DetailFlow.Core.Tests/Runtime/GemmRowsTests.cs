using DetailFlow.Core.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace DetailFlow.Core.Tests.Runtime;

/// <summary>Row counts round to a few sizes; padding is invisible in the result and happens only where kernels are per shape.</summary>
public class GemmRowsTests
{
    [Theory]
    [InlineData(1, 1)]
    [InlineData(2, 2)]
    [InlineData(3, 4)]
    [InlineData(5, 8)]
    [InlineData(9, 16)]
    [InlineData(16, 16)]
    [InlineData(17, 20)]
    [InlineData(33, 40)]
    [InlineData(65, 80)]
    [InlineData(114, 128)]
    [InlineData(128, 128)]
    [InlineData(129, 160)]
    [InlineData(3073, 3584)]
    public void Bucket_RoundsUpToFourSizesPerOctave(long rows, long expected) => Assert.Equal(expected, GemmRows.Bucket(rows));

    [Fact]
    public void Bucket_NeverAddsMoreThanAQuarterAbove16Rows_AndIsAFixedPoint()
    {
        for (long rows = 1; rows <= 5000; rows++)
        {
            long b = GemmRows.Bucket(rows);
            Assert.InRange(b, rows, rows <= 16 ? 2 * rows : rows + rows / 4);
            Assert.Equal(b, GemmRows.Bucket(b));
        }
    }

    [Fact]
    public void BucketsUpTo_ListsEveryBucketOnce()
    {
        Assert.Equal(new long[] { 1, 2, 4, 8, 16, 20, 24, 28, 32, 40, 48, 56, 64, 80, 96, 112, 128 }, GemmRows.BucketsUpTo(128));
        Assert.Equal(Enumerable.Range(1, 1000).Select(r => GemmRows.Bucket(r)).Distinct(), GemmRows.BucketsUpTo(1000));
    }

    [Fact]
    public void RowWise_InBf16_PadsTheRowsToABucket_AndReturnsOnlyTheRealOnes()
    {
        using var scope = NewDisposeScope();
        torch.manual_seed(1);
        using var layer = nn.Linear(32, 24).to(ScalarType.BFloat16);
        var x = torch.randn(3, 7, 32).to(ScalarType.BFloat16);           // 21 rows → 24
        long seen = 0;
        var y = GemmRows.RowWise(x, h => { seen = h.shape[0]; return layer.forward(h); });
        Assert.Equal(24, seen);
        Assert.Equal(new long[] { 3, 7, 24 }, y.shape);
        var direct = layer.forward(x).to(float32);
        Assert.True(torch.allclose(y.to(float32), direct, rtol: 1e-2, atol: 1e-2), "padded rows changed the real rows' results");

        // A bucket's worth of rows is not padded, but still goes in as a matrix (one kernel per shape, not two).
        long[] shape = [];
        GemmRows.RowWise(torch.randn(2, 8, 32).to(ScalarType.BFloat16), h => { shape = h.shape; return layer.forward(h); });
        Assert.Equal(new long[] { 16, 32 }, shape);
    }

    [Fact]
    public void RowWise_InFloat32_LeavesTheRowsAlone()
    {
        using var scope = NewDisposeScope();
        var x = torch.randn(3, 7, 32);
        long seen = 0;
        var y = GemmRows.RowWise(x, h => { seen = h.shape[0] * h.shape[1]; return h * 2; });
        Assert.Equal(21, seen);
        Assert.True(y.equal(x * 2).all().item<bool>());
    }

    [Fact]
    public void Warm_RunsEachDistinctLinearShapeOncePerBucket_OnlyInReducedPrecision()
    {
        using var model = nn.Sequential(nn.Linear(16, 32), nn.Linear(32, 16), nn.Linear(16, 32));   // two distinct shapes
        Assert.Equal(0, GemmRows.Warm(model, [3, 5]));
        model.to(ScalarType.BFloat16);
        Assert.Equal(2 * 2, GemmRows.Warm(model, [3, 4, 5]));           // buckets 4 and 8
    }
}
