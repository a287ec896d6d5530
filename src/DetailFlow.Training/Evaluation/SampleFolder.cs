using DetailFlow.Core.Imaging;
using DetailFlow.Training.Data;

namespace DetailFlow.Training.Evaluation;

/// <summary>
/// A resumable folder of evaluation images <c>000000.png</c>, <c>000001.png</c>, … (the official scripts' naming).
/// An image counts as present only when it decodes to the expected size, so an interrupted run — files are written to
/// a temporary name and renamed — resumes where it stopped and redoes nothing that is complete.
/// </summary>
public sealed class SampleFolder
{
    public SampleFolder(string directory, int imageSize)
    {
        if (imageSize <= 0) throw new ArgumentOutOfRangeException(nameof(imageSize), imageSize, "image size must be positive");
        Directory.CreateDirectory(directory);
        Root = directory;
        ImageSize = imageSize;
    }

    public string Root { get; }
    public int ImageSize { get; }

    public string PathOf(int index) => Path.Combine(Root, $"{index:D6}.png");

    /// <summary>The image at <paramref name="index"/>, or null when it is missing, unreadable or of another size.</summary>
    public RgbImage? TryRead(int index)
    {
        var image = ImageFolderSource.Decode(PathOf(index), out _);
        return image is { Width: var w, Height: var h } && w == ImageSize && h == ImageSize ? image : null;
    }

    /// <summary>Indices in [0, count) without a complete image.</summary>
    public IReadOnlyList<int> Missing(int count) => Enumerable.Range(0, count).Where(i => TryRead(i) is null).ToArray();

    public void Write(int index, RgbImage image)
    {
        if (image.Width != ImageSize || image.Height != ImageSize)
            throw new ArgumentException($"image is {image.Width}×{image.Height}, the folder holds {ImageSize}×{ImageSize}", nameof(image));
        string path = PathOf(index), tmp = path + ".tmp";
        File.WriteAllBytes(tmp, PngEncoder.Fast.Encode(image));
        File.Move(tmp, path, overwrite: true);
    }
}
