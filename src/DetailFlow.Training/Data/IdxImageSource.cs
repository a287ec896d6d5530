using DetailFlow.Core.Imaging;

namespace DetailFlow.Training.Data;

/// <summary>
/// Grey IDX images (MNIST, Fashion-MNIST) as RGB (the grey value in all three channels), zero-padded evenly on every
/// side to the next multiple of <see cref="PadMultiple"/> (Fashion-MNIST 28×28 → 32×32 with multiple 16 or 32), so the
/// tokenizer's patch grid fits.
/// </summary>
public sealed class IdxImageSource : ILabeledImageSource
{
    /// <summary>The ten Fashion-MNIST classes in label order (Zalando's README).</summary>
    public static readonly IReadOnlyList<string> FashionMnistClasses =
        ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"];

    private readonly byte[] _images;
    private readonly byte[] _labels;
    private readonly int _rows, _cols;

    public IdxImageSource(IdxFile images, IdxFile labels, int padMultiple, IReadOnlyList<string>? classNames = null)
    {
        ArgumentNullException.ThrowIfNull(images);
        ArgumentNullException.ThrowIfNull(labels);
        if (images.Dimensions.Length != 3)
            throw new InvalidDataException($"IDX images must be [N, H, W], got [{string.Join(", ", images.Dimensions)}]");
        if (labels.Dimensions.Length != 1 || labels.Dimensions[0] != images.Dimensions[0])
            throw new InvalidDataException($"IDX labels [{string.Join(", ", labels.Dimensions)}] do not match {images.Dimensions[0]} images");
        if (padMultiple < 1) throw new ArgumentOutOfRangeException(nameof(padMultiple), padMultiple, "pad multiple must be positive");
        (_images, _labels) = (images.Data, labels.Data);
        (_rows, _cols) = (images.Dimensions[1], images.Dimensions[2]);
        PadMultiple = padMultiple;
        Height = RoundUp(_rows, padMultiple);
        Width = RoundUp(_cols, padMultiple);
        int classes = _labels.Length == 0 ? 0 : _labels.Max() + 1;
        ClassNames = classNames is { } names && names.Count >= classes
            ? names
            : Enumerable.Range(0, classes).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToArray();
    }

    /// <summary>Reads an images/labels IDX pair (gzipped or raw), optionally only the first <paramref name="maxItems"/>.</summary>
    public static IdxImageSource Open(string imagesPath, string labelsPath, int padMultiple, int? maxItems = null,
        IReadOnlyList<string>? classNames = null) =>
        new(IdxFile.Read(imagesPath, maxItems), IdxFile.Read(labelsPath, maxItems), padMultiple, classNames);

    public int PadMultiple { get; }
    public int Height { get; }
    public int Width { get; }
    public int Count => _labels.Length;
    public IReadOnlyList<string> ClassNames { get; }

    public int LabelOf(int index) => _labels[CheckIndex(index)];

    public string Describe(int index) => $"idx[{index}]";

    public RgbImage? TryLoad(int index, out string? error)
    {
        CheckIndex(index);
        error = null;
        var rgb = new byte[3 * Height * Width];
        int top = (Height - _rows) / 2, left = (Width - _cols) / 2;
        int offset = index * _rows * _cols;
        for (int y = 0; y < _rows; y++)
        for (int x = 0; x < _cols; x++)
        {
            byte v = _images[offset + y * _cols + x];
            int o = 3 * ((y + top) * Width + x + left);
            rgb[o] = rgb[o + 1] = rgb[o + 2] = v;
        }
        return new RgbImage(Width, Height, rgb);
    }

    private int CheckIndex(int index) => index >= 0 && index < Count
        ? index
        : throw new ArgumentOutOfRangeException(nameof(index), index, $"index must be in [0, {Count})");

    private static int RoundUp(int v, int m) => (v + m - 1) / m * m;
}
