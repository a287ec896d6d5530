using DetailFlow.Core.Imaging;
using DetailFlow.Core.Tokenizer;
using DetailFlow.Training.Data;
using TorchSharp;
using static TorchSharp.torch;

namespace DetailFlow.Training.Evaluation;

/// <summary>What <see cref="TokenizerEvaluation.Run"/> measured.</summary>
public sealed record TokenizerEvaluationResult(int Images, int Reconstructed, int Skipped, double Psnr, double Ssim, double Rfid)
{
    /// <summary>Statistics of the real (centre-cropped) images: a reference file for <c>eval-c2i</c>.</summary>
    public required FeatureStatistics Real { get; init; }

    public required FeatureStatistics Reconstructions { get; init; }
}

/// <summary>
/// rFID, PSNR and SSIM of a tokenizer (official <c>inference/reconstruct_vq.py</c>, clean path): each image is
/// centre-cropped to the tokenizer's size (ADM <c>center_crop_arr</c>), reconstructed with all N tokens, converted to
/// 8 bits (spec §2.9) and saved as PNG in a resumable <see cref="SampleFolder"/>; metrics are computed from the saved
/// 8-bit reconstructions against the 8-bit crops, FID in the features of <paramref name="extractor"/>.
/// </summary>
public sealed class TokenizerEvaluation(VqModel tokenizer, IFeatureExtractor extractor)
{
    public int BatchSize { get; init; } = 16;

    /// <param name="progress">(images done, status) after each batch.</param>
    public TokenizerEvaluationResult Run(ILabeledImageSource source, int count, SampleFolder samples,
        Action<long, string>? progress = null, CancellationToken cancellationToken = default)
    {
        if (count < 2 || count > source.Count) throw new ArgumentOutOfRangeException(nameof(count), count, $"need 2..{source.Count} images");
        int size = tokenizer.Config.ImageSize;
        if (samples.ImageSize != size) throw new ArgumentException($"sample folder holds {samples.ImageSize}² images, the tokenizer makes {size}²", nameof(samples));
        using var real = new FeatureAccumulator();
        using var fake = new FeatureAccumulator();
        var psnr = new List<double>();
        var ssim = new List<double>();
        int reconstructed = 0, skipped = 0;
        for (int start = 0; start < count; start += BatchSize)
        {
            cancellationToken.ThrowIfCancellationRequested();
            using var scope = NewDisposeScope();
            var indices = Enumerable.Range(start, Math.Min(BatchSize, count - start)).ToArray();
            var crops = new List<(int Index, RgbImage Crop)>();
            foreach (int i in indices)
            {
                if (source.TryLoad(i, out _) is { } image) crops.Add((i, ImageTransforms.CenterCropArr(image, size)));
                else skipped++;
            }
            if (crops.Count == 0) continue;
            var recons = crops.Select(c => samples.TryRead(c.Index)).ToArray();
            var todo = Enumerable.Range(0, crops.Count).Where(k => recons[k] is null).ToArray();
            if (todo.Length > 0)
            {
                var x = ImageTensors.ToSigned(ImageTensors.ToUint8(todo.Select(k => crops[k].Crop).ToArray()));
                var images = PixelConversion.ToRgb(tokenizer.Reconstruct(x, null, size).to(float32));
                for (int j = 0; j < todo.Length; j++)
                {
                    samples.Write(crops[todo[j]].Index, images[j]);
                    recons[todo[j]] = images[j];
                }
                reconstructed += todo.Length;
            }
            var realU8 = ImageTensors.ToUint8(crops.Select(c => c.Crop).ToArray());
            var fakeU8 = ImageTensors.ToUint8(recons!);
            psnr.AddRange(ImageMetrics.Psnr(ImageTensors.ToSigned(realU8), ImageTensors.ToSigned(fakeU8)));
            ssim.AddRange(ImageMetrics.Ssim(ImageTensors.ToSigned(realU8), ImageTensors.ToSigned(fakeU8)));
            var (rf, _) = extractor.Extract(realU8);
            var (ff, _) = extractor.Extract(fakeU8);
            real.Add(rf);
            fake.Add(ff);
            progress?.Invoke(indices[^1] + 1, $"PSNR {psnr.Average():F2} dB, SSIM {ssim.Average():F4}");
        }
        var realStats = real.ToStatistics();
        var fakeStats = fake.ToStatistics();
        return new TokenizerEvaluationResult(psnr.Count, reconstructed, skipped, psnr.Average(), ssim.Average(), realStats.FrechetDistance(fakeStats))
        {
            Real = realStats, Reconstructions = fakeStats,
        };
    }
}
