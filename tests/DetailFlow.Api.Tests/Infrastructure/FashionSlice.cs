using System.IO.Compression;
using DetailFlow.Core.Imaging;
using DetailFlow.Training.Data;

namespace DetailFlow.Api.Tests;

/// <summary>
/// The first images of Debian's Fashion-MNIST (<c>dataset-fashion-mnist</c>), padded to 32×32 and written as PNGs in an
/// ImageFolder layout <c>&lt;class&gt;/&lt;n&gt;.png</c> (class folders named by label id), plus that folder as a zip.
/// </summary>
public static class FashionSlice
{
    public const string Images = "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz";
    public const string Labels = "/usr/share/datasets/fashion-mnist/train-labels-idx1-ubyte.gz";
    public const int Count = 48;

    private static readonly Lazy<string> Dir = new(Build);

    /// <summary>The slice as a folder on disk.</summary>
    public static string Folder => Dir.Value;

    /// <summary>The slice as a zip archive (entries <c>&lt;class&gt;/&lt;n&gt;.png</c>).</summary>
    public static byte[] Zip()
    {
        using var ms = new MemoryStream();
        using (var zip = new ZipArchive(ms, ZipArchiveMode.Create, leaveOpen: true))
            foreach (var file in Directory.EnumerateFiles(Folder, "*.png", SearchOption.AllDirectories).Order())
                zip.CreateEntryFromFile(file, Path.GetRelativePath(Folder, file).Replace('\\', '/'));
        return ms.ToArray();
    }

    private static string Build()
    {
        Assert.True(File.Exists(Images), $"{Images} is missing (apt-get install -y dataset-fashion-mnist)");
        var source = IdxImageSource.Open(Images, Labels, 32, Count);
        string dir = Path.Combine(Path.GetTempPath(), $"detailflow-fashion-slice-{Environment.ProcessId}");
        for (int i = 0; i < source.Count; i++)
        {
            var image = source.TryLoad(i, out var error) ?? throw new InvalidDataException(error);
            string classDir = Path.Combine(dir, source.LabelOf(i).ToString());
            Directory.CreateDirectory(classDir);
            File.WriteAllBytes(Path.Combine(classDir, $"{i:D3}.png"), PngEncoder.Fast.Encode(image));
        }
        return dir;
    }
}
