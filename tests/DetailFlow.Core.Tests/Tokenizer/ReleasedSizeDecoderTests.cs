using DetailFlow.Core.Tokenizer;
using TorchSharp;
using static TorchSharp.torch;

namespace DetailFlow.Core.Tests.Tokenizer;

/// <summary>Random-weight models of the released shapes (spec §2.1): construction and output shapes only.</summary>
public class ReleasedSizeDecoderTests
{
    private static TokenizerConfig DetailFlow16 => TokenizerPresets.DetailFlow16;

    [Fact]
    public void DetailFlow16ConfigResolvesToTheBaseSizedDecoder()
    {
        var dec = DetailFlow16.Dec;
        Assert.Equal((768, 12, 12, 3072, 256, 16), (dec.HiddenSize, dec.NumHiddenLayers, dec.NumAttentionHeads, dec.IntermediateSize, dec.NumPatches, dec.PatchSize));
    }

    [Fact]
    public void DetailFlow16DecoderDecodesA256PixelImage()
    {
        using var model = new VqModel(DetailFlow16, decoderOnly: true);
        var sd = model.state_dict();
        Assert.Equal([256L, 768], sd["decoder.visual_model.embeddings.position_embedding.weight"].shape);
        Assert.Equal([1L, 128, 768], sd["decoder.latent_pos_embed"].shape);
        Assert.Equal([3072L, 768], sd["decoder.visual_model.encoder.layers.11.mlp.fc1.weight"].shape);
        Assert.Equal([8192L, 8], sd["quantize.embedding.weight"].shape);
        Assert.False(sd.ContainsKey("decoder.visual_model.encoder.layers.12.mlp.fc1.weight"));

        using var codes = torch.randint(0, 8192, [1, 128], dtype: int64);
        using var pixels = model.Decode(codes, 128, 256);
        Assert.Equal([1L, 3, 256, 256], pixels.shape);
        Assert.False(pixels.isnan().any().item<bool>());
        using var preview = model.Decode(codes, 16, 48);
        Assert.Equal([1L, 3, 48, 48], preview.shape);
    }

    [Fact]
    public void DecodeRejectsAPrefixLongerThanTheCodes()
    {
        using var model = new VqModel(DetailFlow16, decoderOnly: true);
        using var codes = torch.zeros(1, 8, dtype: int64);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => model.Decode(codes, 9, 32));
        Assert.Contains("9", e.Message);
        var s = Assert.Throws<ArgumentOutOfRangeException>(() => model.Decode(codes, 8, 40));
        Assert.Contains("40", s.Message);
    }
}
