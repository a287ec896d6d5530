using DetailFlow.Core.Gpt;
using TorchSharp;

namespace DetailFlow.Core.Tests.Gpt;

public class KvCacheTests
{
    private static readonly GptConfig Config = new() { Dim = 32, NLayer = 2, NHead = 2, BlockSize = 8, GroupSize = 4, CausalNum = 4 };

    [Fact]
    public void Rows_AreACacheOverSomeRows_WritesLandInThoseRowsOfTheWhole()
    {
        using var cache = new KvCache(Config, maxRows: 4);
        using (var part = cache.Rows(2, 2))
        {
            Assert.Equal(2, part.MaxRows);
            Assert.Equal(cache.TrashSlot, part.TrashSlot);
            var k = torch.full([2, 2, 1, 16], 7f);
            var v = torch.full([2, 2, 1, 16], 9f);
            var (keys, values) = part.Update(1, torch.tensor(new long[] { 3, 5 }).view(2, 1), k, v, keyCount: 6);
            Assert.Equal([2L, 2, 6, 16], keys.shape);
            Assert.Equal(7f, keys[0, .., 3].mean().item<float>());
            Assert.Equal(9f, values[1, .., 5].mean().item<float>());
        }
        var whole = cache.KeyBuffer(1);
        Assert.Equal(7f, whole[2, .., 3].mean().item<float>());   // row 0 of the part is row 2 of the whole
        Assert.Equal(7f, whole[3, .., 5].mean().item<float>());
        Assert.Equal(14f * 16 * 2, whole.sum().item<float>());    // nothing else written
        Assert.Equal(9f, cache.ValueBuffer(1)[3, .., 5].mean().item<float>());
        Assert.Throws<ArgumentOutOfRangeException>(() => cache.Rows(3, 2));
    }

    [Fact]
    public void SwapRows_ExchangesTwoRowsInEveryLayer()
    {
        using var cache = new KvCache(Config, maxRows: 3);
        for (int layer = 0; layer < Config.NLayer; layer++)
            for (int r = 0; r < 3; r++)
            {
                cache.KeyBuffer(layer)[r].fill_(10 * layer + r);
                cache.ValueBuffer(layer)[r].fill_(-(10 * layer + r));
            }
        cache.SwapRows(0, 2);
        for (int layer = 0; layer < Config.NLayer; layer++)
        {
            float[] keys = [.. cache.KeyBuffer(layer).amax([1, 2, 3]).data<float>()];
            float[] values = [.. cache.ValueBuffer(layer).amin([1, 2, 3]).data<float>()];
            Assert.Equal([10f * layer + 2, 10f * layer + 1, 10f * layer], keys);
            Assert.Equal([-(10f * layer + 2), -(10f * layer + 1), -(10f * layer)], values);
        }
    }
}
