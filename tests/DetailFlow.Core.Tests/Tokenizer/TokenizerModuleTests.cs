using DetailFlow.Core.Tokenizer;
using TorchSharp;
using static TorchSharp.torch;

namespace DetailFlow.Core.Tests.Tokenizer;

public class TokenizerModuleTests
{
    [Fact]
    public void PositionTableResizeToItsOwnGridIsTheIdentity()
    {
        using var table = torch.randn(256, 24);
        using var resized = PositionEmbeddingResize.Resize(table, 16, 16);
        Assert.True(resized.shape.SequenceEqual(table.shape) && resized.eq(table).all().item<bool>());
    }

    [Fact]
    public void PositionTableResizeOfAConstantStaysConstant()
    {
        // Antialiased weights are normalised to sum 1, so a constant table resizes to the same constant on any grid.
        using var table = torch.full(64, 3, 0.75f);
        using var resized = PositionEmbeddingResize.Resize(table, 3, 5);
        Assert.Equal([15L, 3], resized.shape);
        Assert.True(resized.allclose(torch.full(15, 3, 0.75f), atol: 1e-7));
    }

    [Fact]
    public void PositionTableDownsampleUsesTheAntialiasedTriangle()
    {
        // 16×16 ramp v = 16·i + j → 8×8: entry (0,0) has edge weights 3/7, 3/7, 1/7 per axis → 17·5/7 (spec §2.4,
        // notes/torchsharp.md §3); interior entry (1,1) is the plain 2×2 mean 42.5.
        var ramp = torch.arange(256, dtype: float32).reshape(256, 1);
        using var resized = PositionEmbeddingResize.Resize(ramp, 8, 8);
        Assert.Equal(17 * 5 / 7.0, resized[0, 0].item<float>(), 4);
        Assert.Equal(42.5, resized[9, 0].item<float>(), 4);
    }

    [Fact]
    public void PatchifyPutsTheChannelFastestInsideARowMajorGrid()
    {
        // Token r·gw + c, feature (py·p + px)·3 + ch holds pixel (ch, r·p + py, c·p + px).
        using var image = torch.arange(2 * 3 * 4 * 6, dtype: float32).reshape(2, 3, 4, 6);
        using var patches = PatchLayout.Patchify(image, 2);
        Assert.Equal([2L, 6, 12], patches.shape);
        // batch 1, token r=1,c=2 (index 5), py=1, px=0, ch=2 → pixel (2, 3, 4)
        float expected = image[1, 2, 3, 4].item<float>();
        Assert.Equal(expected, patches[1, 5, (1 * 2 + 0) * 3 + 2].item<float>());
    }

    [Fact]
    public void UnpatchifyInvertsPatchifyOnASquareGrid()
    {
        using var image = torch.randn(2, 3, 12, 12);
        using var back = PatchLayout.Unpatchify(PatchLayout.Patchify(image, 4), 4);
        Assert.True(back.shape.SequenceEqual(image.shape) && back.eq(image).all().item<bool>());
    }

    [Fact]
    public void PatchifyRejectsAnImageThatIsNotAMultipleOfThePatch()
    {
        using var image = torch.zeros(1, 3, 10, 16);
        var e = Assert.Throws<ArgumentException>(() => PatchLayout.Patchify(image, 4));
        Assert.Contains("10", e.Message);
    }

    [Fact]
    public void EncoderMaskMatchesAHandWrittenExample()
    {
        // n = 2 patches, m = 4 latents, G = 2, C = 2: latents 0,1 causal; latents 2,3 see their whole group.
        // 1 = blocked. Rows are queries.
        int[,] expected =
        {
            //x0 x1 z0 z1 z2 z3
            { 0, 0, 1, 1, 1, 1 }, // x0
            { 0, 0, 1, 1, 1, 1 }, // x1
            { 0, 0, 0, 1, 1, 1 }, // z0
            { 0, 0, 0, 0, 1, 1 }, // z1
            { 0, 0, 0, 0, 0, 0 }, // z2
            { 0, 0, 0, 0, 0, 0 }, // z3
        };
        using var mask = XzAttentionMask.Create(2, 4, zCausal: true, xSeeZ: false, zSeeX: true, groupSize: 2, causalNum: 2);
        for (int i = 0; i < 6; i++)
            for (int j = 0; j < 6; j++)
                Assert.True(expected[i, j] == 1 == mask[i, j].item<bool>(), $"({i},{j})");
    }

    [Fact]
    public void EncoderMaskFollowsTheSpecFormulaForLatents()
    {
        // allowed(i, j) = i < C ? j ≤ i : j/G ≤ i/G  (spec §2.6), G = 4, C = 8.
        const int n = 3, m = 16, g = 4, c = 8;
        using var mask = XzAttentionMask.Create(n, m, zCausal: true, xSeeZ: false, zSeeX: true, groupSize: g, causalNum: c);
        for (int i = 0; i < m; i++)
            for (int j = 0; j < m; j++)
            {
                bool allowed = i < c ? j <= i : j / g <= i / g;
                Assert.True(allowed == !mask[n + i, n + j].item<bool>(), $"latent ({i},{j})");
            }
    }

    [Fact]
    public void AdditiveMaskUsesTheMostNegativeFloat()
    {
        using var blocked = torch.tensor(new[] { false, true }, [1, 2]);
        using var additive = XzAttentionMask.ToAdditive(blocked, float32);
        Assert.Equal(0f, additive[0, 0].item<float>());
        Assert.Equal(float.MinValue, additive[0, 1].item<float>());
    }

    [Fact]
    public void MaskRejectsACausalPrefixThatIsNotAMultipleOfTheGroup()
    {
        var e = Assert.Throws<ArgumentException>(() => XzAttentionMask.Create(4, 8, zCausal: true, groupSize: 4, causalNum: 6));
        Assert.Contains("6", e.Message);
    }

    [Fact]
    public void QuantizerTakesTheFirstOfTwoEqualCodes()
    {
        using var vq = new VectorQuantizer(4, 2, l2Norm: true, showUsage: false);
        using (torch.no_grad())
            vq.embedding.weight!.copy_(torch.tensor(new float[] { 0, 1, 2, 0, 5, 0, -1, 0 }, [4, 2]));
        // (3, 0) normalises to (1, 0): codes 1 and 2 both normalise to (1, 0) → index 1.
        var (quantized, indices) = vq.Quantize(torch.tensor(new float[] { 3, 0, 0, -2 }, [1, 2, 2]));
        Assert.Equal(1L, indices[0].item<long>());
        Assert.Equal(1f, quantized[0, 0, 0].item<float>(), 6);
        // (0, −2) → (0, −1): equidistant (d = 2) from (1,0), (1,0), (−1,0) and distance 4 from (0,1) → first: index 1.
        Assert.Equal(1L, indices[1].item<long>());
    }

    [Fact]
    public void CodebookEntriesAreUnitNormRows()
    {
        using var vq = new VectorQuantizer(3, 2, l2Norm: true, showUsage: true);
        using (torch.no_grad())
            vq.embedding.weight!.copy_(torch.tensor(new float[] { 3, 4, 0, 2, -1, 0 }, [3, 2]));
        using var rows = vq.GetCodebookEntry(torch.tensor(new long[] { 0, 2 }));
        Assert.Equal(0.6f, rows[0, 0].item<float>(), 6);
        Assert.Equal(0.8f, rows[0, 1].item<float>(), 6);
        Assert.Equal(-1f, rows[1, 0].item<float>(), 6);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => vq.GetCodebookEntry(torch.tensor(new long[] { 3 })));
        Assert.Contains("[3, 3]", e.Message);
    }
}
