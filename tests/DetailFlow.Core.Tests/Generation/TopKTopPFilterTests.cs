using DetailFlow.Core.Generation;
using TorchSharp;
using static TorchSharp.torch;

namespace DetailFlow.Core.Tests.Generation;

public class TopKTopPFilterTests
{
    private static (float[] Values, long[] Ids) Run(float[] logits, int? k, double p)
    {
        using var scope = torch.NewDisposeScope();
        var (values, ids) = TopKTopPFilter.Apply(torch.tensor(logits, [1, logits.Length]), k, p);
        return (values.data<float>().ToArray(), ids!.data<long>().ToArray());
    }

    [Fact]
    public void TopK_KeepsTiesAtTheKthValue()
    {
        var (values, ids) = Run([1f, 5f, 3f, 3f, 0f], k: 2, p: 1.0);
        Assert.Equal([5f, 3f, 3f], values);
        Assert.Equal([1L], ids.Take(1));
        Assert.Equal([2L, 3L], ids.Skip(1).Order());
    }

    [Fact]
    public void TopK_WithFewerTiesInAnotherRow_MasksThatRowsExtraEntry()
    {
        using var scope = torch.NewDisposeScope();
        var logits = torch.tensor(new float[] { 5, 3, 3, 0, /* row 2 */ 4, 2, 1, 0 }, [2, 4]);
        var (values, _) = TopKTopPFilter.Apply(logits, 2, 1.0);
        Assert.Equal([5f, 3f, 3f, 4f, 2f, float.NegativeInfinity], values.data<float>().ToArray());
    }

    [Fact]
    public void TopP_KeepsTheFirstTokenAboveTheThreshold()
    {
        float[] logits = [MathF.Log(0.2f), MathF.Log(0.5f), MathF.Log(0.3f)];
        // cumulative 0.5, 0.8, 1.0: p = 0.6 removes cum > 0.6 shifted right → keeps 0.5 and 0.3.
        var (values, ids) = Run(logits, k: null, p: 0.6);
        Assert.Equal([1L, 2L, 0L], ids);
        Assert.Equal(float.NegativeInfinity, values[2]);
        Assert.True(float.IsFinite(values[1]));
        // p = 0.4: even the first exceeds it, and it is kept alone.
        (values, _) = Run(logits, k: null, p: 0.4);
        Assert.Equal(1, values.Count(float.IsFinite));
    }

    [Fact]
    public void TopKThenTopP_AppliesNucleusOverTheSurvivorsOnly()
    {
        // top-2 of probs {0.4, 0.35, 0.25}: renormalised cum over survivors 0.533, 1.0; p = 0.5 keeps one.
        float[] logits = [MathF.Log(0.35f), MathF.Log(0.25f), MathF.Log(0.4f)];
        var (values, ids) = Run(logits, k: 2, p: 0.5);
        Assert.Equal([2L, 0L], ids);
        Assert.Equal(1, values.Count(float.IsFinite));
    }

    [Fact]
    public void Inactive_WhenTopKIsTheVocabularyAndTopPIsOne()
    {
        Assert.False(TopKTopPFilter.IsActive(8192, 1.0, 8192));
        Assert.True(TopKTopPFilter.IsActive(8191, 1.0, 8192));
        Assert.True(TopKTopPFilter.IsActive(null, 0.99, 8192));
        using var logits = torch.randn(2, 16);
        var (values, ids) = TopKTopPFilter.Apply(logits, 16, 1.0);
        Assert.Same(logits, values);
        Assert.Null(ids);
    }
}
