using DetailFlow.Core.Generation;
using DetailFlow.Parity;

namespace DetailFlow.Core.Tests.Generation;

public class ResolutionScheduleTests
{
    private static ResolutionSchedule Released(int n) => new(256, n, 8, null, 1.5, 16, 16, 16);

    [Fact]
    public void ReleasedDetailFlow16TableEqualsTheSpec()
    {
        // spec §5, N = 128: (t, r_t, d_t) for all 23 valid prefixes.
        int[,] expected =
        {
            { 1, 1, 16 }, { 2, 4, 16 }, { 3, 6, 16 }, { 4, 9, 16 }, { 5, 12, 16 }, { 6, 15, 16 }, { 7, 18, 32 },
            { 8, 21, 32 }, { 16, 44, 48 }, { 24, 67, 80 }, { 32, 88, 96 }, { 40, 108, 112 }, { 48, 128, 128 },
            { 56, 147, 160 }, { 64, 164, 176 }, { 72, 181, 192 }, { 80, 196, 208 }, { 88, 210, 224 },
            { 96, 223, 224 }, { 104, 235, 240 }, { 112, 244, 256 }, { 120, 251, 256 }, { 128, 256, 256 },
        };
        var s = Released(128);
        Assert.Equal(expected.GetLength(0), s.ValidPrefixes.Count);
        for (int i = 0; i < expected.GetLength(0); i++)
        {
            int t = expected[i, 0];
            Assert.Equal(t, s.ValidPrefixes[i]);
            Assert.Equal(expected[i, 1], s.Resolution(t));
            Assert.Equal(expected[i, 2], s.DecoderResolution(t));
        }
    }

    [Theory]
    [InlineData(128, "16:6,32:8,48:16,80:24,96:32,112:40,128:48,160:56,176:64,192:72,208:80,224:96,240:104,256:128")]
    [InlineData(256, "16:8,32:16,48:32,64:40,80:56,96:64,112:80,128:88,144:104,160:120,176:136,192:152,208:168,224:192,240:216,256:256")]
    [InlineData(512, "16:16,32:40,48:64,64:88,80:112,96:136,112:160,128:184,144:216,160:240,176:272,192:304,208:344,224:384,240:432,256:512")]
    public void ReleasedBestTokensEqualTheSpec(int n, string expected)
    {
        var s = Released(n);
        Assert.Equal(expected, string.Join(",", s.BestTokens.Select(e => $"{e.Resolution}:{e.Tokens}")));
    }

    [Theory]
    [InlineData(256, 39, 24, 34, 48)]
    [InlineData(512, 71, 440, 242, 256)]
    [InlineData(512, 71, 2, 1, 16)]
    public void ReleasedTablesHaveTheSpecSizeAndEntries(int n, int count, int t, int r, int d)
    {
        var s = Released(n);
        Assert.Equal(count, s.ValidPrefixes.Count);
        Assert.Equal(r, s.Resolution(t));
        Assert.Equal(d, s.DecoderResolution(t));
    }

    [Fact]
    public void SixtyFourPixelsHasNoTokenCountForDetailFlow16()
    {
        Assert.Null(Released(128).BestTokenFor(64));
        Assert.Equal(48, Released(128).BestTokenFor(128));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(9)]
    [InlineData(129)]
    public void PrefixOffTheScheduleIsRejectedNamingTheRule(int t)
    {
        var s = Released(128);
        Assert.False(s.IsValidPrefix(t));
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => s.DecoderResolution(t));
        Assert.Contains("multiples of 8", e.Message);
    }

    [Theory]
    [InlineData(32, 12, 4)]     // N not a multiple of G
    [InlineData(32, 4, 6)]      // C not a multiple of G
    public void InconsistentArgumentsAreRejected(int n, int g, int c)
    {
        Assert.Throws<ArgumentException>(() => new ResolutionSchedule(32, n, g, c, 1.5, 4, 4, 4));
    }

    [Fact]
    public void EveryFixtureResolutionTableMatchesExactly()
    {
        var report = new ParityReport("resolution_tables", "resolution_tables");
        new ResolutionTablesCase().Check(TestFixtures.Set, "resolution_tables", report, CancellationToken.None);
        Assert.True(report.Passed, string.Join("\n", report.Failures));
        Assert.True(report.ExactComparisons >= 4 * 11);
    }
}
