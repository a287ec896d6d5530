using DetailFlow.Training.Data;

namespace DetailFlow.Training.Tests;

/// <summary>
/// The Fashion-MNIST files of Debian's <c>dataset-fashion-mnist</c> (installed by <c>tests/run.sh</c>). Tests that need
/// them fail with the install command when they are absent — they never skip.
/// </summary>
internal static class FashionMnist
{
    public const string Folder = "/usr/share/datasets/fashion-mnist";
    public static string TrainImages => Require("train-images-idx3-ubyte.gz");
    public static string TrainLabels => Require("train-labels-idx1-ubyte.gz");
    public static string TestImages => Require("t10k-images-idx3-ubyte.gz");
    public static string TestLabels => Require("t10k-labels-idx1-ubyte.gz");

    /// <summary>The first <paramref name="count"/> training images, padded to 32×32.</summary>
    public static IdxImageSource Slice(int count) =>
        IdxImageSource.Open(TrainImages, TrainLabels, padMultiple: 32, maxItems: count, IdxImageSource.FashionMnistClasses);

    private static string Require(string name)
    {
        string path = Path.Combine(Folder, name);
        if (!File.Exists(path))
            throw new FileNotFoundException($"Fashion-MNIST is missing ({path}); install it with: apt-get update && apt-get install -y dataset-fashion-mnist", path);
        return path;
    }
}

/// <summary>A temporary folder removed at dispose.</summary>
internal sealed class TempDir : IDisposable
{
    public TempDir() => Directory.CreateDirectory(Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "dftrain-" + Guid.NewGuid().ToString("N")));
    public string Path { get; }
    public void Dispose() { if (Directory.Exists(Path)) Directory.Delete(Path, recursive: true); }
}
