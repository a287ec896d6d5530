using DetailFlow.Core.Gpt;
using TorchSharp;
using static TorchSharp.torch;

namespace DetailFlow.Core.Tests.Gpt;

public class GroupCausalMaskTests
{
    [Fact]
    public void GroupCausalMask_FirstGroupSeesCausalPrefix()
    {
        // C = G = 4, S = 12: rows 0..3 plain causal; rows 4..7 see 0..7; rows 8..11 see 0..11 (spec §6.5).
        using var mask = GroupCausalMask.Build(12, 4, 4);
        var m = mask.data<bool>().ToArray();
        bool At(int i, int j) => m[i * 12 + j];
        Assert.True(At(0, 0));
        Assert.False(At(0, 1));
        Assert.True(At(3, 3));
        Assert.False(At(3, 4));
        Assert.True(At(4, 7));   // first parallel group sees itself fully
        Assert.True(At(4, 0));   // and the causal prefix
        Assert.False(At(5, 8));  // but not the next group
        Assert.True(At(11, 8));
        Assert.True(At(8, 11));
        Assert.Equal(4 * 5 / 2 + 4 * 8 + 4 * 12, m.Count(x => x));
    }

    [Fact]
    public void GroupCausalMask_CausalNumTwoGroups_KeepsSecondGroupCausal()
    {
        using var mask = GroupCausalMask.Build(16, 4, 8);
        var m = mask.data<bool>().ToArray();
        Assert.False(m[5 * 16 + 6]);  // 5 < C = 8: causal even inside its group
        Assert.True(m[7 * 16 + 7]);
        Assert.True(m[8 * 16 + 11]);  // 8 ≥ C: sees its whole group 8..11
        Assert.False(m[8 * 16 + 12]);
    }

    [Fact]
    public void Rows_AtAbsolutePositions_EqualTheFullMaskRows()
    {
        using var scope = torch.NewDisposeScope();
        var full = GroupCausalMask.Build(32, 4, 8);
        var positions = torch.tensor(new long[] { 0, 7, 8, 9, 31, 12, 13, 14 }, [2, 4]);
        var rows = GroupCausalMask.Rows(positions, 32, 4, 8);                    // [2, 1, 4, 32]
        Assert.Equal([2L, 1, 4, 32], rows.shape);
        var expected = full.index_select(0, positions.flatten()).view(2, 1, 4, 32);
        TensorAssert.Identical(expected, rows);
    }

    [Fact]
    public void Allowed_AgreesWithTheBuiltMask()
    {
        using var mask = GroupCausalMask.Build(24, 8, 8);
        var m = mask.data<bool>().ToArray();
        for (int i = 0; i < 24; i++)
            for (int j = 0; j < 24; j++)
                Assert.Equal(GroupCausalMask.Allowed(i, j, 8, 8), m[i * 24 + j]);
    }
}
