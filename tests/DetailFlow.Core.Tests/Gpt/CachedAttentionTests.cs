using DetailFlow.Core.Gpt;
using TorchSharp;
using static TorchSharp.torch;

namespace DetailFlow.Core.Tests.Gpt;

public class CachedAttentionTests
{
    private static GptConfig Config(int heads, int headDim) => new()
    {
        Dim = heads * headDim, NLayer = 1, NHead = heads, VocabSize = 16, NumClasses = 2, BlockSize = 32, GroupSize = 4, CausalNum = 4, MultipleOf = 32,
    };

    /// <summary>
    /// rows × length queries at positions width−length..width−1 of a cache whose earlier positions hold the same random
    /// keys and values in both caches; row 1's last position is padding (written to the trash slot, attending key 0
    /// only), as the engine lays out a mixed step; some allowed keys are dropped from the mask at random. The reference
    /// is what <see cref="Attention"/> does otherwise: rotary, the cache's indexed writes, SDPA (here in float32).
    /// </summary>
    [Theory]
    [InlineData(ScalarType.Float32, 1, 1, 16, false)]
    [InlineData(ScalarType.Float32, 3, 4, 16, false)]
    [InlineData(ScalarType.Float32, 2, 4, 64, true)]     // rotary rows shared by every row ([1, L])
    [InlineData(ScalarType.BFloat16, 1, 1, 16, false)]
    [InlineData(ScalarType.BFloat16, 3, 4, 64, false)]
    [InlineData(ScalarType.BFloat16, 16, 4, 32, false)]  // 16 rows × 4 heads × 4 queries × 29 keys: split over threads
    [InlineData(ScalarType.Float32, 16, 4, 32, true)]
    [InlineData(ScalarType.Float32, 2, 7, 32, false)]    // four queries at a time, then three one by one
    [InlineData(ScalarType.BFloat16, 2, 8, 64, false)]   // GPT-L's groups: two fours
    [InlineData(ScalarType.BFloat16, 3, 6, 16, true)]
    public void Run_RotatesWritesTheCacheAndAttendsLikeRotaryIndexedWritesAndSdpa(ScalarType dtype, int rows, int length, int headDim, bool sharedRotary)
    {
        const int heads = 4, width = 29;
        var config = Config(heads, headDim);
        int dim = heads * headDim;
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        manual_seed(rows * 100 + length + headDim);
        using var actualCache = new KvCache(config, rows, dtype);
        using var expectedCache = new KvCache(config, rows, dtype);
        var earlier = arange(width - length).unsqueeze(0).expand(rows, -1).contiguous();
        var oldKeys = randn(rows, heads, width - length, headDim).to(dtype);
        var oldValues = randn(rows, heads, width - length, headDim).to(dtype);
        actualCache.Update(0, earlier, oldKeys, oldValues, width - length);
        expectedCache.Update(0, earlier, oldKeys, oldValues, width - length);

        var writeIndex = arange(width - length, width).unsqueeze(0).expand(rows, -1).contiguous();
        var mask = GroupCausalMask.Rows(writeIndex, width, config.GroupSize, config.EffectiveCausalNum)
            .logical_and(rand(rows, 1, length, width).gt(0.2));
        mask[TensorIndex.Colon, TensorIndex.Colon, TensorIndex.Colon, 0] = tensor(true);
        using var table = new Rotary2D(config);
        var rotary = table.Rows(sharedRotary ? writeIndex.narrow(0, 0, 1) : writeIndex);
        if (rows > 1)
        {
            writeIndex[1, length - 1] = tensor((long)actualCache.TrashSlot);
            mask[1, 0, length - 1] = arange(width).eq(0);
        }
        var projected = randn(rows, length, 3 * dim).to(dtype);

        var actual = CachedAttention.Run(actualCache, 0, projected, rotary, writeIndex, mask, width);

        var qk = Rotary2D.Apply(projected.narrow(-1, 0, 2 * dim).view(rows, length, 2 * heads, headDim), rotary);
        var v = projected.narrow(-1, 2 * dim, dim).view(rows, length, heads, headDim);
        var (k, vv) = expectedCache.Update(0, writeIndex, qk.narrow(2, heads, heads).transpose(1, 2), v.transpose(1, 2), width);
        var expected = nn.functional.scaled_dot_product_attention(qk.narrow(2, 0, heads).transpose(1, 2).to(float32), k.to(float32), vv.to(float32), attn_mask: mask)
            .transpose(1, 2).reshape(rows, length, dim);
        // The rotated keys: float32 to its last bits (the complex product's rounding), bfloat16 to one step of its own.
        AssertClose(expectedCache.KeyBuffer(0), actualCache.KeyBuffer(0), dtype == ScalarType.Float32 ? 1e-6 : 1.0 / 128, "keys");
        TensorAssert.Identical(expectedCache.ValueBuffer(0), actualCache.ValueBuffer(0));
        Assert.Equal(dtype, actual.dtype);
        Assert.Equal(new long[] { rows, length, dim }, actual.shape);
        // float32: summation order only; bfloat16: the result's own rounding (half an ulp, 2⁻⁹ relative) and no more.
        var tolerance = dtype == ScalarType.Float32 ? 1e-5 : 4e-3;
        double error = (actual.to(float32) - expected).abs().max().item<float>();
        Assert.True(error <= tolerance * Math.Max(1, expected.abs().max().item<float>()), $"max |Δ| = {error}");
    }

    private static void AssertClose(Tensor expected, Tensor actual, double relative, string what)
    {
        var gap = (actual.to(float32) - expected.to(float32)).abs();
        var allowed = expected.to(float32).abs() * relative + 1e-6;
        Assert.True(gap.le(allowed).all().item<bool>(), $"{what}: max |Δ| {gap.max().item<float>()}");
    }

    [Fact]
    public void Run_QueryWithNoAllowedKey_GivesZeros()
    {
        var config = Config(2, 16);
        using var scope = NewDisposeScope();
        using var cache = new KvCache(config, 1);
        var writeIndex = tensor(new long[] { 3, 4 }, [1, 2]);
        var mask = ones(1, 1, 2, 5, dtype: ScalarType.Bool);
        mask[0, 0, 1] = zeros(5, dtype: ScalarType.Bool);
        var result = CachedAttention.Run(cache, 0, randn(1, 2, 96), ones(1, 2, 8, 2), writeIndex, mask, 5);
        Assert.True(result[0, 0].abs().sum().item<float>() > 0);
        Assert.Equal(0f, result[0, 1].abs().sum().item<float>());
    }

    [Fact]
    public void Supports_CpuFloat32AndBFloat16WithHeadDimsOfSixteens()
    {
        Assert.True(CachedAttention.Supports(ScalarType.Float32, CPU, 64));
        Assert.True(CachedAttention.Supports(ScalarType.BFloat16, CPU, 16));
        Assert.False(CachedAttention.Supports(ScalarType.Float16, CPU, 64));
        Assert.False(CachedAttention.Supports(ScalarType.Float32, CPU, 8));
        Assert.False(CachedAttention.Supports(ScalarType.Float32, new Device(DeviceType.CUDA, 0), 64));
    }

    [Fact]
    public void Run_RejectsWhatItDoesNotHandle()
    {
        using var scope = NewDisposeScope();
        var writeIndex = tensor(new long[] { 0 }, [1, 1]);
        var mask = ones(1, 1, 1, 1, dtype: ScalarType.Bool);
        var rotary = ones(1, 1, 8, 2);
        using var halfCache = new KvCache(Config(2, 16), 1, ScalarType.Float16);
        Assert.Throws<ArgumentException>(() => CachedAttention.Run(halfCache, 0, randn(1, 1, 96).half(), rotary, writeIndex, mask, 1));
        using var cache = new KvCache(Config(2, 16), 1);
        Assert.Throws<ArgumentException>(() => CachedAttention.Run(cache, 0, randn(1, 1, 96).to(ScalarType.BFloat16), rotary, writeIndex, mask, 1));
        Assert.Throws<ArgumentException>(() => CachedAttention.Run(cache, 0, randn(1, 1, 64), rotary, writeIndex, mask, 1));
        Assert.Throws<ArgumentException>(() => CachedAttention.Run(cache, 0, randn(1, 1, 96), ones(1, 2, 8, 2), writeIndex, mask, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => CachedAttention.Run(cache, 0, randn(1, 1, 96), rotary, writeIndex, mask, cache.TrashSlot + 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => CachedAttention.Run(cache, 0, randn(2, 1, 96), rotary, writeIndex, mask, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => CachedAttention.Run(cache, 0, randn(1, 1, 96), rotary, tensor(new long[] { cache.Positions }, [1, 1]), mask, 1));
        Assert.Throws<ArgumentException>(() => CachedAttention.Run(cache, 0, randn(1, 1, 96), rotary, writeIndex, ones(1, 1, 1, 1), 1));
    }
}

public class AttentionProbeTests
{
    private static readonly GptConfig Config = new()
    {
        Dim = 64, NLayer = 1, NHead = 4, VocabSize = 16, NumClasses = 2, BlockSize = 32, GroupSize = 4, CausalNum = 4, MultipleOf = 32,
    };

    [Fact]
    public void Configured_IsTaken_WhereOnePassApplies()
    {
        Assert.Equal(8, AttentionProbe.Choose(AttentionKernel.OnePass, Config, ScalarType.BFloat16, CPU, 8, TimeSpan.Zero).OnePassRows);
        Assert.Equal(0, AttentionProbe.Choose(AttentionKernel.Sdpa, Config, ScalarType.BFloat16, CPU, 8, TimeSpan.Zero).OnePassRows);
        var half = AttentionProbe.Choose(AttentionKernel.OnePass, Config, ScalarType.Float16, CPU, 8, TimeSpan.Zero);
        Assert.Equal(0, half.OnePassRows);
        Assert.Equal("sdpa", half.Summary);
    }

    [Fact]
    public void Auto_TimesBothWaysAtOneRequestAndAFullBatch()
    {
        var choice = AttentionProbe.Choose(AttentionKernel.Auto, Config, ScalarType.Float32, CPU, 8, TimeSpan.FromMilliseconds(100));
        Assert.All(new[] { choice.SdpaSingle, choice.OnePassSingle, choice.SdpaSaturated, choice.OnePassSaturated }, t => Assert.True(t > 0));
        int expected = choice.OnePassSingle >= choice.SdpaSingle ? 0 : choice.OnePassSaturated < choice.SdpaSaturated ? 8 : 2;
        Assert.Equal(expected, choice.OnePassRows);
        Assert.Contains("per layer at one request", choice.Describe());
    }
}
