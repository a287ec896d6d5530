using DetailFlow.Core.Imaging;
using SkiaSharp;

namespace DetailFlow.Training.Data;

/// <summary>
/// An ImageNet-layout folder <c>root/&lt;class&gt;/*</c> as torchvision's <c>ImageFolder</c> reads it: classes are the
/// sub-folder names sorted ordinally (label = position), files sorted by path within each class, only the extensions
/// ImageFolder accepts. Images are decoded with SkiaSharp to RGB; a file Skia cannot decode (corrupt, truncated,
/// zero bytes) is reported through <see cref="TryLoad"/>, never thrown.
/// </summary>
public sealed class ImageFolderSource : ILabeledImageSource
{
    /// <summary>torchvision's <c>IMG_EXTENSIONS</c>.</summary>
    public static readonly IReadOnlySet<string> Extensions = new HashSet<string>(StringComparer.OrdinalIgnoreCase)
        { ".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp" };

    private readonly (string Path, int Label)[] _items;

    public ImageFolderSource(string root)
    {
        if (!Directory.Exists(root)) throw new DirectoryNotFoundException($"image folder not found: {root}");
        Root = root;
        var classes = Directory.GetDirectories(root).Select(Path.GetFileName).OfType<string>().Order(StringComparer.Ordinal).ToArray();
        if (classes.Length == 0) throw new InvalidDataException($"{root}: no class folders (expected {root}/<class>/<image>)");
        ClassNames = classes;
        _items = classes.SelectMany((name, label) =>
                Directory.EnumerateFiles(Path.Combine(root, name), "*", SearchOption.AllDirectories)
                    .Where(f => Extensions.Contains(Path.GetExtension(f)))
                    .Order(StringComparer.Ordinal)
                    .Select(f => (f, label)))
            .ToArray();
        if (_items.Length == 0) throw new InvalidDataException($"{root}: no image files with extensions {string.Join(", ", Extensions)}");
    }

    public string Root { get; }
    public int Count => _items.Length;
    public IReadOnlyList<string> ClassNames { get; }

    public int LabelOf(int index) => _items[index].Label;

    public string Describe(int index) => _items[index].Path;

    public RgbImage? TryLoad(int index, out string? error) => Decode(_items[index].Path, out error);

    /// <summary>Decodes an image file to RGB (alpha dropped); null with the reason when Skia cannot decode it completely.</summary>
    public static RgbImage? Decode(string path, out string? error)
    {
        error = null;
        var info = new FileInfo(path);
        if (!info.Exists) { error = "file not found"; return null; }
        if (info.Length == 0) { error = "empty file"; return null; }
        using var data = SKData.Create(path);
        using var codec = data is null ? null : SKCodec.Create(data);
        if (codec is null) { error = "not a decodable image"; return null; }
        var imageInfo = new SKImageInfo(codec.Info.Width, codec.Info.Height, SKColorType.Rgba8888, SKAlphaType.Unpremul);
        if (imageInfo.Width <= 0 || imageInfo.Height <= 0) { error = $"invalid size {imageInfo.Width}×{imageInfo.Height}"; return null; }
        var rgba = new byte[imageInfo.BytesSize];
        SKCodecResult result;
        unsafe
        {
            fixed (byte* p = rgba) result = codec.GetPixels(imageInfo, (nint)p);
        }
        if (result != SKCodecResult.Success) { error = $"decode failed: {result}"; return null; }
        var rgb = new byte[3 * imageInfo.Width * imageInfo.Height];
        for (int i = 0, j = 0; j < rgb.Length; i += 4, j += 3)
        {
            rgb[j] = rgba[i];
            rgb[j + 1] = rgba[i + 1];
            rgb[j + 2] = rgba[i + 2];
        }
        return new RgbImage(imageInfo.Width, imageInfo.Height, rgb);
    }
}
