using System.IO.Compression;
using DetailFlow.Training.Data;

namespace DetailFlow.Training.Tests.Data;

public class IdxImageSourceTests
{
    [Fact]
    public void FashionMnist_FirstLabelsAndShape_MatchTheDataset()
    {
        var labels = IdxFile.Read(FashionMnist.TrainLabels, maxItems: 10);
        Assert.Equal(new byte[] { 9, 0, 0, 3, 0, 2, 7, 2, 5, 5 }, labels.Data);
        var images = IdxFile.Read(FashionMnist.TrainImages, maxItems: 3);
        Assert.Equal(new[] { 3, 28, 28 }, images.Dimensions);
        Assert.Equal(3 * 28 * 28, images.Data.Length);
    }

    [Fact]
    public void Slice_PadsTo32_WithTheImageCentredAndGreyInAllChannels()
    {
        var raw = IdxFile.Read(FashionMnist.TrainImages, maxItems: 2);
        var source = FashionMnist.Slice(2);
        var image = source.TryLoad(1, out var error)!;
        Assert.Null(error);
        Assert.Equal((32, 32), (image.Width, image.Height));
        Assert.Equal(10, source.ClassNames.Count);
        Assert.Equal((byte)0, image[0, 0].R);
        Assert.Equal((byte)0, image[31, 31].G);
        for (int y = 0; y < 28; y++)
        for (int x = 0; x < 28; x++)
        {
            byte v = raw.Data[28 * 28 + y * 28 + x];
            Assert.Equal((v, v, v), image[x + 2, y + 2]);
        }
        Assert.Equal(0, source.LabelOf(1));
    }

    [Fact]
    public void Read_TruncatedFile_ThrowsNamingTheFile()
    {
        using var dir = new TempDir();
        string path = Path.Combine(dir.Path, "broken-idx3-ubyte.gz");
        using (var gz = new GZipStream(File.Create(path), CompressionLevel.Fastest))
            gz.Write([0, 0, 8, 3, 0, 0, 0, 5, 0, 0, 0, 28, 0, 0, 0, 28, 1, 2, 3]);
        var e = Assert.Throws<InvalidDataException>(() => IdxFile.Read(path));
        Assert.Contains("truncated", e.Message);
        Assert.Contains(path, e.Message);
    }

    [Fact]
    public void Read_WrongMagic_Throws()
    {
        using var dir = new TempDir();
        string path = Path.Combine(dir.Path, "x.idx");
        File.WriteAllBytes(path, [1, 2, 8, 1, 0, 0, 0, 1, 7]);
        Assert.Throws<InvalidDataException>(() => IdxFile.Read(path));
    }
}
