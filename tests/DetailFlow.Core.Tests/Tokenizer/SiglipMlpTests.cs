using DetailFlow.Core.Runtime;
using DetailFlow.Core.Tokenizer;
using DetailFlow.Parity;
using TorchSharp;
using static TorchSharp.torch;

namespace DetailFlow.Core.Tests.Tokenizer;

public class SiglipMlpTests
{
    /// <summary>
    /// The fixture decoder in bf16, its fc1 GELU in the packed product's epilogue, against the same decoder in float32:
    /// as close as the plain bf16 decoder (the epilogue skips one rounding of fc1's output to bf16, so no farther).
    /// </summary>
    [Fact]
    public void PackedBf16Decoder_WithGeluInTheEpilogue_IsAsCloseToFloat32AsThePlainOne()
    {
        using var model = TokenizerFixtureModel.Load(TestFixtures.Set, decoderOnly: true);
        using var generator = new Generator(17);
        using var codes = randint(0, model.Config.CodebookSize, [2, model.NumLatentTokens], dtype: int64, generator: generator);
        int size = model.Config.ImageSize;
        Tensor Decode() { using var noGrad = no_grad(); return model.Decode(codes, model.NumLatentTokens, size).to(float32); }
        using var reference = Decode();
        model.to(ScalarType.BFloat16);
        using var plain = Decode();
        Assert.True(PackedLinear.Pack(model, model.NumLatentTokens) > 0);
        Assert.True(model.decoder.modules().OfType<SiglipMlp>().All(m => PackedLinear.HasGeluTanh(m.fc1) && PackedLinear.IsPacked(m.fc1)));
        using var fused = Decode();

        float plainGap = (plain - reference).abs().mean().item<float>(), fusedGap = (fused - reference).abs().mean().item<float>();
        float scale = reference.abs().mean().item<float>();
        Assert.True(fusedGap <= 1.1f * plainGap, $"mean |Δ| against float32: fused {fusedGap}, plain bf16 {plainGap}");
        Assert.True(fusedGap <= 0.02f * scale, $"mean |Δ| {fusedGap} against mean |x| {scale}");
    }
}
