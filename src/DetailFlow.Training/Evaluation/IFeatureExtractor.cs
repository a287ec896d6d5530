using static TorchSharp.torch;

namespace DetailFlow.Training.Evaluation;

/// <summary>
/// The network FID and IS are measured in: 8-bit images in, features (for FID statistics) and class logits (for the
/// Inception Score) out. <see cref="Inception.InceptionFeatureExtractor"/> in production; tests substitute a small
/// stand-in network.
/// </summary>
public interface IFeatureExtractor : IDisposable
{
    /// <summary>A short description for logs and result files.</summary>
    string Name { get; }

    int FeatureDim { get; }

    /// <summary>
    /// Features [B, <see cref="FeatureDim"/>] and logits [B, K], both float64 on the CPU, of uint8 images [B, 3, H, W]
    /// (any H, W the extractor accepts). Runs without gradients; the caller owns the results.
    /// </summary>
    (Tensor Features, Tensor Logits) Extract(Tensor images);
}
