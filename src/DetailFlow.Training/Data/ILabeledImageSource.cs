using DetailFlow.Core.Imaging;

namespace DetailFlow.Training.Data;

/// <summary>A finite, indexable set of labelled images (torchvision's <c>Dataset</c> of (image, label) pairs).</summary>
public interface ILabeledImageSource
{
    int Count { get; }

    /// <summary>Class names in label order (label = index).</summary>
    IReadOnlyList<string> ClassNames { get; }

    int LabelOf(int index);

    /// <summary>A name for the item in reports (file path, or <c>idx[i]</c>).</summary>
    string Describe(int index);

    /// <summary>The decoded image, or null with a reason when the item cannot be decoded (corrupt or empty file).</summary>
    RgbImage? TryLoad(int index, out string? error);
}
