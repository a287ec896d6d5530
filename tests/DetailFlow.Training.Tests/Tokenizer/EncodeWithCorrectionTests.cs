using DetailFlow.Core.Tokenizer;
using TorchSharp;
using static TorchSharp.torch;

namespace DetailFlow.Training.Tests.Tokenizer;

public class EncodeWithCorrectionTests
{
    private static bool Same(Tensor a, Tensor b) => a.shape.SequenceEqual(b.shape) && a.eq(b).all().item<bool>();

    private static VqModel Model()
    {
        torch.manual_seed(11);
        return new VqModel(SmallConfigs.Tokenizer);
    }

    [Fact]
    public void CleanPath_EqualsTheInferenceEncode()
    {
        using var model = Model();
        using var scope = NewDisposeScope();
        var images = torch.rand(3, 3, 32, 32) * 2 - 1;
        var enc = model.EncodeWithCorrection(images, 16, noiseIndex: null);
        var (codes, quant) = model.Encode(images);
        Assert.Equal(codes.data<long>().ToArray(), enc.CleanIndices.data<long>().ToArray());
        Assert.True((enc.Quant - quant).abs().max().item<float>() < 1e-6);
        Assert.Null(enc.CleanQuant);
        Assert.True(enc.VqLoss.item<float>() > 0);
        Assert.Equal(enc.VqLoss.item<float>() * 0.25f, enc.CommitLoss.item<float>(), 5);
    }

    [Theory]
    [InlineData(2)]   // inside the causal prefix: one noisy code
    [InlineData(8)]   // a group start past C: G noisy codes
    public void NoisyPath_BuildsTheIndexTripletAsTheOfficialScript(int noiseIndex)
    {
        using var model = Model();
        using var scope = NewDisposeScope();
        var images = torch.rand(4, 3, 32, 32) * 2 - 1;
        using var gen = new Generator(5);
        var enc = model.EncodeWithCorrection(images, 16, noiseIndex, gen);
        int end = noiseIndex + (noiseIndex < 4 ? 1 : 4);
        Assert.Equal(end, enc.NoiseEnd);
        var clean = enc.CleanIndices;
        var input = enc.InputIndices!;
        var label = enc.LabelIndices!;
        Assert.True(Same(input[.., ..noiseIndex], clean[.., ..noiseIndex]));
        Assert.True(Same(label[.., ..end], clean[.., ..end]));
        Assert.True(Same(input[.., end..], label[.., end..]));
        // Noisy codes are drawn among the 50 nearest: with 16 × 4 draws from 50, some differ from the nearest.
        Assert.False(Same(input[.., noiseIndex..end], clean[.., noiseIndex..end]));
        Assert.Equal(new long[] { 4, 16, 3 }, enc.IndexTriplet().shape);
        // Decoder input: the clean codes before noise_idx, then the noisy ones.
        var rows = model.quantize.Codebook();
        var noisyVectors = rows.index_select(0, input[.., noiseIndex..end].reshape(-1)).view(4, end - noiseIndex, 8);
        Assert.True((enc.Quant[.., noiseIndex..end] - noisyVectors).abs().max().item<float>() < 1e-5);
    }

    [Fact]
    public void NoisyPath_GradientsReachRefineConvAndRefinedTokens()
    {
        using var model = Model();
        model.train();
        using var scope = NewDisposeScope();
        var images = torch.rand(2, 3, 32, 32) * 2 - 1;
        var enc = model.EncodeWithCorrection(images, 16, 4, new Generator(1));
        var recon = model.DecodeForTraining(torch.cat([enc.CleanQuant!, enc.Quant], 0), 16, 32);
        (recon.pow(2).mean() + enc.VqLoss + enc.CommitLoss).backward();
        Assert.True(model.refine_conv!.weight!.grad!.abs().sum().item<float>() > 0);
        Assert.True(model.encoder!.refined_tokens!.grad!.abs().sum().item<float>() > 0);
        Assert.True(model.decoder.visual_model.embeddings.position_embedding.weight!.grad!.abs().sum().item<float>() > 0);
        Assert.True(model.quantize.embedding.weight!.grad!.abs().sum().item<float>() > 0);
    }
}
