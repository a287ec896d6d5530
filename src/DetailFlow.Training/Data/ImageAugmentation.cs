using DetailFlow.Core.Imaging;

namespace DetailFlow.Training.Data;

/// <summary>How a training image becomes a <c>size</c>² crop (spec §9.1 data): the official ImageNet pipeline or, for
/// images already at the training size (padded IDX sets), the flip alone.</summary>
public enum AugmentationKind
{
    /// <summary>ADM <c>random_crop_arr</c> (short side in [size, 1.25·size]) + horizontal flip with p = 0.5.</summary>
    RandomCropFlip,
    /// <summary>Horizontal flip with p = 0.5; the image must already be size².</summary>
    Flip,
    /// <summary>ADM centre crop, no flip (evaluation, code extraction without ten-crop).</summary>
    CenterCrop,
}

public static class ImageAugmentation
{
    public static RgbImage Apply(AugmentationKind kind, RgbImage image, int size, Random rng)
    {
        var result = kind switch
        {
            AugmentationKind.RandomCropFlip => ImageTransforms.RandomCropArr(image, size, rng),
            AugmentationKind.Flip => image,
            AugmentationKind.CenterCrop => ImageTransforms.CenterCropArr(image, size),
            _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "unknown augmentation"),
        };
        if (kind != AugmentationKind.CenterCrop && rng.NextDouble() < 0.5) result = ImageTransforms.FlipHorizontal(result);
        if (result.Width != size || result.Height != size)
            throw new InvalidDataException($"augmentation {kind} produced {result.Width}×{result.Height}, the training size is {size}² (pad or crop the data set)");
        return result;
    }
}
