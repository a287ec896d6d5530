using DetailFlow.Core.Gpt;

namespace DetailFlow.Core.Tests.Gpt;

public class SequenceLayoutTests
{
    [Fact]
    public void SequenceLayout_InsertsSpecialTokensOnceCausalNumCodesAreIn()
    {
        var layout = new SequenceLayout(CausalNum: 8, GroupSize: 8, BlockSize: 128);
        Assert.Equal(1, layout.ExtendedLength(0));
        Assert.Equal(8, layout.ExtendedLength(7));
        Assert.Equal(16, layout.ExtendedLength(8));
        Assert.Equal(128, layout.ExtendedLength(120));
        Assert.Equal(-1, layout.CodeAt(0));
        Assert.Equal(7, layout.CodeAt(8));    // z_{C−1} enters at position C, with the special tokens (§12 item 6)
        Assert.Equal(-1, layout.CodeAt(9));
        Assert.Equal(-1, layout.CodeAt(15));
        Assert.Equal(8, layout.CodeAt(16));
        Assert.True(layout.IsSpecialPosition(9));
        Assert.Equal(6, layout.SpecialIndex(15));
        Assert.Equal(1, layout.CodesPerStep(5));
        Assert.Equal(8, layout.CodesPerStep(8));
    }

    [Fact]
    public void IsOnSchedule_AcceptsCausalPrefixAndWholeGroups()
    {
        var layout = new SequenceLayout(CausalNum: 8, GroupSize: 8, BlockSize: 128);
        int[] expected = [1, 2, 3, 4, 5, 6, 7, 8, 16, 24, 32, 40, 48, 56, 64, 72, 80, 88, 96, 104, 112, 120, 128];
        Assert.Equal(expected, layout.ScheduleLengths());
        Assert.False(layout.IsOnSchedule(0));
        Assert.False(layout.IsOnSchedule(12));
        Assert.False(layout.IsOnSchedule(136));
        var c8g4 = new SequenceLayout(CausalNum: 8, GroupSize: 4, BlockSize: 32);
        Assert.Equal([1, 2, 3, 4, 5, 6, 7, 8, 12, 16, 20, 24, 28, 32], c8g4.ScheduleLengths());
    }
}
