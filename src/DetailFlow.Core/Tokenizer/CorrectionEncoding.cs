using TorchSharp;
using static TorchSharp.torch;

namespace DetailFlow.Core.Tokenizer;

/// <summary>
/// <see cref="VqModel.EncodeWithCorrection"/>'s result. <see cref="Quant"/>: the code vectors the decoder reads (the
/// noisy branch under self-correction) [B, m, d]; <see cref="CleanQuant"/>: the clean branch (null without noise);
/// mixed codebook and commitment losses; indices [B, m] (clean, input, label — input/label null without noise, as
/// in <c>extract_codes_c2i.py</c> the triplet is then [clean] only); noise_idx / noise_end (−1 without noise).
/// </summary>
public sealed record CorrectionEncoding(Tensor Quant, Tensor? CleanQuant, Tensor VqLoss, Tensor CommitLoss,
    Tensor CleanIndices, Tensor? InputIndices, Tensor? LabelIndices, int NoiseIndex, int NoiseEnd)
{
    /// <summary>[B, m, 3] (clean, input, label); without noise all three columns are the clean codes.</summary>
    public Tensor IndexTriplet() => torch.stack([CleanIndices, InputIndices ?? CleanIndices, LabelIndices ?? CleanIndices], dim: -1);

    internal CorrectionEncoding MoveToOuterDisposeScope()
    {
        foreach (var t in new[] { Quant, CleanQuant, VqLoss, CommitLoss, CleanIndices, InputIndices, LabelIndices })
            t?.MoveToOuterDisposeScope();
        return this;
    }
}

/// <summary>The body of <see cref="VqModel.EncodeWithCorrection"/> (see there): clean pass, or clean + noisy passes with mixed losses.</summary>
internal static class CorrectionEncoder
{
    public static CorrectionEncoding Encode(VqModel model, Tensor images, int latentCount, int? noiseIndex, Generator? generator)
    {
        var enc = model.RequireEncoder();
        VqModel.CheckImages(images);
        var config = model.Config;
        var quantize = model.quantize;
        double beta = config.CommitLossBeta;
        using var scope = NewDisposeScope();
        var (_, latents) = enc.Forward(images.to(model.Device).to(model.DType), latentCount);         // [B, m, D_enc]
        var h = model.quant_conv!.forward(latents);                                              // [B, m, d]
        if (noiseIndex is null)
        {
            var clean = quantize.QuantizeForTraining(h, beta);
            return new CorrectionEncoding(clean.Quantized, null, clean.VqLoss, clean.CommitLoss, clean.Indices, null, null, -1, -1)
                .MoveToOuterDisposeScope();
        }
        int noiseIdx = noiseIndex.Value;
        int causal = config.EffectiveCausalNum, group = config.GroupSize;
        int noiseEnd = noiseIdx + (noiseIdx < causal ? 1 : group);
        if (noiseIdx < 0 || noiseEnd > latentCount)
            throw new ArgumentOutOfRangeException(nameof(noiseIndex), noiseIdx, $"noisy latents [{noiseIdx}, {noiseEnd}) must lie in [0, {latentCount})");
        var refine = model.refine_conv ?? throw new InvalidOperationException("self-correction needs refine_conv: the config has correction_training = false");
        var first = quantize.QuantizeForTraining(h, beta, topK: Math.Min(VqModel.SelfCorrectionTopK, config.CodebookSize), generator: generator);
        var noisyPrefix = torch.cat([first.Quantized[.., ..noiseIdx], first.NoiseQuantized![.., noiseIdx..noiseEnd]], dim: 1).detach(); // [B, e, d]
        var (_, refinedLatents) = enc.ForwardRefined(images.to(model.Device).to(model.DType), latentCount, refine.forward(noisyPrefix.to(model.DType)));
        var second = quantize.QuantizeForTraining(model.quant_conv.forward(refinedLatents), beta, noiseEnd: noiseEnd);
        var noisyQuant = torch.cat([noisyPrefix, second.Quantized[.., noiseEnd..]], dim: 1);                // [B, m, d]
        double total = 2.0 * latentCount - noiseEnd;
        double wClean = latentCount / total, wNoise = (latentCount - noiseEnd) / total;
        var clean3 = first.Indices;
        var input = torch.cat([clean3[.., ..noiseIdx], first.NoiseIndices![.., noiseIdx..noiseEnd], second.Indices[.., noiseEnd..]], dim: 1);
        var label = torch.cat([clean3[.., ..noiseEnd], second.Indices[.., noiseEnd..]], dim: 1);
        return new CorrectionEncoding(noisyQuant, first.Quantized,
                first.VqLoss * wClean + second.VqLoss * wNoise, first.CommitLoss * wClean + second.CommitLoss * wNoise,
                clean3, input, label, noiseIdx, noiseEnd)
            .MoveToOuterDisposeScope();
    }
}
