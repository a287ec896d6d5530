using System.Runtime.Intrinsics;
using DetailFlow.Core.Decoding;
using DetailFlow.Core.Tokenizer;
using DetailFlow.Parity;
using TorchSharp;
using static TorchSharp.torch;

namespace DetailFlow.Core.Tests.Tokenizer;

public class HeadwiseAttentionTests
{
    /// <summary>libtorch's fused attention over the same [B, L, D] projections split into heads, merged back.</summary>
    private static Tensor Fused(Tensor q, Tensor k, Tensor v, int heads)
    {
        long b = q.shape[0], l = q.shape[1], d = q.shape[2];
        Tensor Split(Tensor x) => x.view(b, l, heads, d / heads).transpose(1, 2);
        return nn.functional.scaled_dot_product_attention(Split(q), Split(k), Split(v)).transpose(1, 2).reshape(b, l, d);
    }

    private static (Tensor Q, Tensor K, Tensor V) Projections(long b, long l, long d, ScalarType dtype, ulong seed)
    {
        using var generator = new Generator(seed);   // its own: other tests draw from the global one in parallel
        return ((randn([b, l, d], generator: generator) * 2).to(dtype), (randn([b, l, d], generator: generator) * 2).to(dtype),
            randn([b, l, d], generator: generator).to(dtype));
    }

    [Theory]
    [InlineData(ScalarType.Float32, 16)]
    [InlineData(ScalarType.Float32, 37)]    // rows not a multiple of the 16 lanes: the softmax's scalar tail
    [InlineData(ScalarType.BFloat16, 16)]
    [InlineData(ScalarType.BFloat16, 37)]
    public void Attend_EqualsLibtorchsFusedAttention(ScalarType dtype, int length)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var (q, k, v) = Projections(2, length, 64, dtype, (ulong)length);
        using var headwise = new HeadwiseAttention();
        var actual = headwise.Attend(q, k, v, heads: 4);
        Assert.Equal(dtype, actual.dtype);
        Assert.Equal([2L, length, 64], actual.shape);
        // The reference in float32 from the same (rounded) inputs. bf16: the scores and probabilities are rounded to
        // bf16 between the products (as eager attention in bf16 rounds them), the fused kernel keeps float32 scores.
        var expected = Fused(q.to(float32), k.to(float32), v.to(float32), 4);
        var gap = (actual.to(float32) - expected).abs();
        if (dtype == ScalarType.Float32)
            Assert.True(gap.max().item<float>() < 1e-5f, $"max |Δ| {gap.max().item<float>()}");
        else
        {
            Assert.True(gap.max().item<float>() < 0.05f, $"max |Δ| {gap.max().item<float>()}");
            Assert.True(gap.mean().item<float>() < 0.005f, $"mean |Δ| {gap.mean().item<float>()}");
        }
    }

    [Fact]
    public void OneBuffer_ServesLongerShorterAndOtherDtypes()
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        using var headwise = new HeadwiseAttention();
        foreach (var (length, dtype) in new[] { (40, ScalarType.Float32), (20, ScalarType.Float32), (40, ScalarType.Float32), (24, ScalarType.BFloat16), (20, ScalarType.Float32) })
        {
            var (q, k, v) = Projections(1, length, 32, dtype, (ulong)(length * 7));
            var gap = (headwise.Attend(q, k, v, heads: 2).to(float32) - Fused(q.to(float32), k.to(float32), v.to(float32), 2)).abs().max().item<float>();
            Assert.True(gap < (dtype == ScalarType.Float32 ? 1e-5f : 0.05f), $"{length} {dtype}: max |Δ| {gap}");
        }
    }

    [Fact]
    public void Fits_OnlyInferenceOnACpuInFloat32OrBFloat16()
    {
        using var scope = NewDisposeScope();
        var x = zeros(1, 8, 32);
        Assert.False(HeadwiseAttention.Fits(x, 4));   // autograd on
        using var noGrad = no_grad();
        Assert.True(HeadwiseAttention.Fits(x, 4));
        Assert.True(HeadwiseAttention.Fits(x.to(bfloat16), 4));
        Assert.False(HeadwiseAttention.Fits(x.to(float16), 4));
        Assert.False(HeadwiseAttention.Fits(x, 5));
        Assert.False(HeadwiseAttention.Fits(zeros(8, 32), 4));
    }

    [Theory]
    [InlineData(ScalarType.Float32, 23, 3)]
    [InlineData(ScalarType.Float32, 384, 800)]   // enough to split over the torch threads
    [InlineData(ScalarType.BFloat16, 23, 3)]
    [InlineData(ScalarType.BFloat16, 384, 800)]
    public void SoftmaxRows_EqualsLibtorchsSoftmax(ScalarType dtype, int width, int rows)
    {
        using var scope = NewDisposeScope();
        using var generator = new Generator((ulong)(width + rows));
        var x = (randn([rows, width], generator: generator) * 6).to(dtype);
        x[0, 1] = tensor(-1e4f).to(dtype);   // a score far below the row's maximum: e^x underflows to 0
        var expected = x.to(float32).softmax(-1);
        var actual = x.clone();
        HeadwiseAttention.SoftmaxRows(actual);
        var gap = (actual.to(float32) - expected).abs();
        // float32: exp within 2 ulp; bf16: one rounding of each probability (2⁻⁹ relative).
        var allowed = expected * (dtype == ScalarType.Float32 ? 1e-6 : 1.0 / 256) + 1e-8;
        Assert.True(gap.le(allowed).all().item<bool>(), $"max |Δ| {gap.max().item<float>()}");
        Assert.Equal(0f, actual[0, 1].to(float32).item<float>());
    }

    /// <summary>The official decode_code outputs through a decoder attending head by head at every length.</summary>
    [Fact]
    public void TokenizerDecodeFixture_PassesHeadByHead()
    {
        int decoders = 0;
        var @case = new TokenizerDecodeCase(m =>
        {
            decoders++;
            m.decoder.HeadwiseFromTokens = 0;
            return new TorchDecoderBackend(m);
        });
        var report = new ParityReport("tokenizer_decode", @case.Kind);
        using (no_grad())
        using (NewDisposeScope())
            @case.Check(TestFixtures.Set, "tokenizer_decode", report, CancellationToken.None);
        Assert.True(report.Passed, string.Join("\n", report.Failures));
        Assert.Equal(1, decoders);
        Assert.Contains(report.Details, d => d.Contains("pixels", StringComparison.Ordinal));
    }

    /// <summary>Decodes at once on several threads, each renting its own buffer, equal those of a fused decoder; mixed prefixes (masked) stay fused.</summary>
    [Fact]
    public void ConcurrentDecodes_HeadByHead_EqualTheFusedDecoder()
    {
        using var model = TokenizerFixtureModel.Load(TestFixtures.Set, decoderOnly: true);
        using var generator = new Generator(11);
        using var codes = randint(0, model.Config.CodebookSize, [2, model.NumLatentTokens], dtype: int64, generator: generator);
        int full = model.NumLatentTokens, size = model.Config.ImageSize;
        Tensor Decode(int t) { using var noGrad = no_grad(); return model.Decode(codes, t, size); }
        using var fusedFull = Decode(full);
        using var fusedHalf = Decode(full / 2);
        Tensor fusedMixed;
        using (no_grad()) fusedMixed = model.Decode(codes, [full, full / 2], size);

        model.decoder.HeadwiseFromTokens = 0;
        var results = new Tensor[8];
        Parallel.For(0, results.Length, new ParallelOptions { MaxDegreeOfParallelism = 4 }, i => results[i] = Decode(i % 2 == 0 ? full : full / 2));
        for (int i = 0; i < results.Length; i++)
        {
            float gap = (results[i] - (i % 2 == 0 ? fusedFull : fusedHalf)).abs().max().item<float>();
            Assert.True(gap < 1e-5f, $"decode {i}: max |Δ| {gap}");
            results[i].Dispose();
        }
        using (no_grad())
        using (var mixed = model.Decode(codes, [full, full / 2], size))
            Assert.True((mixed - fusedMixed).abs().max().item<float>() < 1e-6f);
        fusedMixed.Dispose();
    }

    [Fact]
    public void Probe_RunsHeadByHeadFromTheShortestLengthItKeepsWinningFrom()
    {
        HeadwiseTiming T(int tokens, double sdpa, double headwise) => new(tokens, sdpa, headwise);
        Assert.Equal(200, HeadwiseProbe.FromTokens([T(10, 1, 2), T(100, 2, 2.5), T(200, 4, 3), T(300, 6, 4)]));
        Assert.Equal(10, HeadwiseProbe.FromTokens([T(300, 6, 4), T(10, 1, 0.5)]));
        Assert.Equal(300, HeadwiseProbe.FromTokens([T(10, 1, 0.5), T(100, 2, 2.5), T(300, 6, 4)]));   // a win below a loss does not count
        Assert.Equal(int.MaxValue, HeadwiseProbe.FromTokens([T(10, 1, 0.5), T(300, 6, 6)]));
        Assert.Equal(int.MaxValue, HeadwiseProbe.FromTokens([T(300, 6, 5.8)]));   // 3 % faster: within the margin, SDPA kept
        Assert.Equal(300, HeadwiseProbe.FromTokens([T(200, 4, 3.9), T(300, 6, 5.6)]));
        Assert.Equal(int.MaxValue, HeadwiseProbe.FromTokens([]));
        Assert.Equal("sdpa", HeadwiseChoice.SummaryOf(int.MaxValue));
        Assert.Equal("headwise", HeadwiseChoice.SummaryOf(0));
        Assert.Equal("headwise from 200 tokens", HeadwiseChoice.SummaryOf(200));
    }

    [Fact]
    public void Probe_TimesEveryLength_OrKeepsWhatIsConfigured()
    {
        using var model = TokenizerFixtureModel.Load(TestFixtures.Set, decoderOnly: true);
        int[] lengths = [5, 20, 20, 40];
        var auto = HeadwiseProbe.Choose(DecoderAttention.Auto, model.decoder, lengths, CPU, TimeSpan.FromMilliseconds(50));
        Assert.Equal([5, 20, 40], auto.Timings.Select(t => t.Tokens));
        Assert.All(auto.Timings, t => Assert.True(t.Sdpa > 0 && t.Headwise > 0));
        Assert.Equal(HeadwiseProbe.FromTokens(auto.Timings), auto.FromTokens);
        Assert.Contains("probe", auto.Describe());

        Assert.Equal(0, HeadwiseProbe.Choose(DecoderAttention.Headwise, model.decoder, lengths, CPU, TimeSpan.Zero).FromTokens);
        Assert.Equal(int.MaxValue, HeadwiseProbe.Choose(DecoderAttention.Sdpa, model.decoder, lengths, CPU, TimeSpan.Zero).FromTokens);
        model.MoveTo(ScalarType.Float16);
        var half = HeadwiseProbe.Choose(DecoderAttention.Headwise, model.decoder, lengths, CPU, TimeSpan.Zero);
        Assert.Equal(int.MaxValue, half.FromTokens);
        Assert.Contains("float32/bfloat16", half.Reason);
    }
}
