using DetailFlow.Core.Generation;
using DetailFlow.Core.Gpt;

namespace DetailFlow.Core.Tests.Generation;

public class StepBatchTests
{
    private static readonly SequenceLayout Layout = new(CausalNum: 4, GroupSize: 4, BlockSize: 32);
    private const int Trash = 32;

    private static GenerationRow Row(int codes) =>
        new(codes, new GenerationRequest { ClassLabel = 3, Prefix = codes > 0 ? Enumerable.Range(10, codes).Select(i => (long)i).ToArray() : null }, 32)
        {
            FedEnd = codes == 0 ? 0 : Layout.ExtendedLength(codes - Layout.GroupSize),
        };

    [Fact]
    public void MixedBlocks_ArePacked_WithOutputsIndexedInThePackedPositions()
    {
        var grouped = Row(8);   // feeds extended positions 8..11 (the codes 4..7), its logits predict codes 8..11
        var newcomer = Row(0);  // feeds the class token at position 0
        var batch = StepBatch.Plan([(grouped, false), (grouped, true), (newcomer, false)], Layout, nullClass: 10, Trash);

        Assert.Equal(4, batch.Length);
        Assert.True(batch.Packed);
        Assert.Equal([0L, 1, 2, 3, 4, 5, 6, 7, 8], batch.PackIndex);          // row 2's padding (flat 9..11) is left out
        Assert.Equal([0L, 1, 2, 3, 4, 5, 6, 7, 8], batch.OutputIndex);        // packed coordinates
        Assert.Equal([0, 4, 8], batch.OutputStart);
        Assert.Equal([8L, 9, 10, 11], batch.Positions[..4]);
        Assert.Equal([14L, 15, 16, 17], batch.Codes[..4]);                     // codes 4..7 of the prefix 10..17
        Assert.Equal([3L, 10, 3], batch.Classes);                              // conditional, null-class, newcomer
        Assert.Equal([0L, Trash, Trash, Trash], batch.WriteIndex[8..]);
        Assert.Equal([true, false, false, false], batch.Valid[8..]);
    }

    [Theory]
    [InlineData(1, true)]
    [InlineData(3, true)]    // exactly the 3 padding positions of the newcomer's row
    [InlineData(4, false)]
    [InlineData(int.MaxValue, false)]
    public void PackFrom_IsTheLeastPaddingThatPacks(int packFrom, bool packed)
    {
        var batch = StepBatch.Plan([(Row(8), false), (Row(0), false)], Layout, nullClass: 10, Trash, packFrom);
        Assert.Equal(packed, batch.Packed);
        Assert.Equal([0L, 1, 2, 3, 4], batch.OutputIndex);   // row 1's one output: packed index 4 = flat index 1·4 + 0
        Assert.Equal([0L, 1, 2, 3, 4], batch.PackIndex);
    }

    [Fact]
    public void EqualBlocks_AreNotPacked_AndOutputsIndexTheGrid()
    {
        var a = Row(8);
        var b = Row(12);
        var batch = StepBatch.Plan([(a, false), (b, false)], Layout, nullClass: 10, Trash);

        Assert.False(batch.Packed);
        Assert.Equal(Enumerable.Range(0, 8).Select(i => (long)i), batch.PackIndex);
        Assert.Equal(Enumerable.Range(0, 8).Select(i => (long)i), batch.OutputIndex);
        Assert.Equal(16, batch.Width);
    }

    [Fact]
    public void NewcomerBesideAContinuationPrefix_OutputsOnlyTheLastPositionsOfEachBlock()
    {
        // A continuation from 6 codes feeds positions 0..9 at once; only 6..9 (codes 6..9) give logits.
        var continued = new GenerationRow(1, new GenerationRequest { ClassLabel = 1, Prefix = new long[6] }, 32);
        var causal = Row(2);   // feeds position 2 (code 1), predicts code 2
        causal.FedEnd = 2;
        var batch = StepBatch.Plan([(continued, false), (causal, false)], Layout, nullClass: 10, Trash);

        Assert.Equal(10, batch.Length);
        Assert.True(batch.Packed);
        Assert.Equal(Enumerable.Range(0, 10).Select(i => (long)i).Append(10L), batch.PackIndex);
        Assert.Equal([6L, 7, 8, 9, 10], batch.OutputIndex);
        Assert.Equal([0, 4], batch.OutputStart);
        Assert.Equal(11L, batch.Codes[10 + 0]);                                   // position 2 feeds code 1
    }
}
