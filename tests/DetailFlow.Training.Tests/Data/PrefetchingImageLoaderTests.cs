using DetailFlow.Core.Imaging;
using DetailFlow.Training.Data;
using SkiaSharp;

namespace DetailFlow.Training.Tests.Data;

public class PrefetchingImageLoaderTests
{
    [Fact]
    public void ImageFolder_WithCorruptJpegAndEmptyFile_SkipsAndReportsThem()
    {
        using var dir = new TempDir();
        WriteFolder(dir.Path);
        var source = new ImageFolderSource(dir.Path);
        Assert.Equal(new[] { "bags", "shoes" }, source.ClassNames);
        Assert.Equal(8, source.Count); // 6 good + corrupt.jpg + empty.png (extension-filtered, as ImageFolder)

        using var loader = new PrefetchingImageLoader(source, AugmentationKind.RandomCropFlip, imageSize: 32, batchSize: 4,
            seed: 1, startStep: 0, endStep: 6);
        var batches = loader.Batches().ToList();

        Assert.Equal(6, batches.Count);
        Assert.Equal(6 * 4 - 3 * 2, batches.Sum(b => b.Count)); // 3 epochs of 8 items, 2 bad ones per epoch
        Assert.All(batches, b => Assert.All(b.Pixels, v => Assert.InRange(v, -1f, 1f)));
        var skipped = loader.Skipped.Select(s => Path.GetFileName(s.Name)).Order().ToArray();
        Assert.Equal(new[] { "corrupt.jpg", "empty.png" }, skipped);
        Assert.Contains(loader.Skipped, s => s.Reason == "empty file");
        Assert.Equal(6, batches.Sum(b => b.Skipped.Count));
        var labels = batches.SelectMany(b => b.Labels).ToArray();
        Assert.Contains(0L, labels);
        Assert.Contains(1L, labels);
    }

    [Fact]
    public void Batches_FromALaterStartStep_EqualThoseOfTheFullRun()
    {
        var source = FashionMnist.Slice(40);
        using var full = new PrefetchingImageLoader(source, AugmentationKind.Flip, 32, 6, seed: 5, startStep: 0, endStep: 12);
        using var resumed = new PrefetchingImageLoader(source, AugmentationKind.Flip, 32, 6, seed: 5, startStep: 8, endStep: 12);
        var a = full.Batches().Skip(8).ToList();
        var b = resumed.Batches().ToList();
        Assert.Equal(a.Count, b.Count);
        for (int i = 0; i < a.Count; i++)
        {
            Assert.Equal(a[i].Step, b[i].Step);
            Assert.Equal(a[i].Labels, b[i].Labels);
            Assert.Equal(a[i].Pixels, b[i].Pixels);
        }
    }

    [Fact]
    public async Task Producer_RunsAhead_ButNeverBeyondItsCapacity()
    {
        var source = FashionMnist.Slice(64);
        using var loader = new PrefetchingImageLoader(source, AugmentationKind.Flip, 32, 4, seed: 0, startStep: 0, endStep: 16, capacity: 3);
        await Eventually(() => loader.Queued, queued => queued >= 3, TimeSpan.FromSeconds(20), "the producer never filled ahead");
        Assert.Equal(3, loader.Queued); // filled ahead while nobody consumed
        await Task.Delay(100);          // give an unbounded producer the chance to overshoot
        Assert.Equal(3, loader.Queued); // and stopped at the bound
        Assert.Equal(16, loader.Batches().Count());
    }

    [Fact]
    public void EpochOrder_VisitsEveryItemOncePerEpoch()
    {
        var order = new EpochOrder(10, seed: 3);
        var first = Enumerable.Range(0, 10).Select(p => order.IndexAt(p)).ToArray();
        var second = Enumerable.Range(10, 10).Select(p => order.IndexAt(p)).ToArray();
        Assert.Equal(Enumerable.Range(0, 10), first.Order());
        Assert.Equal(Enumerable.Range(0, 10), second.Order());
        Assert.NotEqual(first, second);
    }

    internal static void WriteFolder(string root)
    {
        var rng = new Random(0);
        foreach (var cls in new[] { "shoes", "bags" })
        {
            Directory.CreateDirectory(Path.Combine(root, cls));
            for (int i = 0; i < 3; i++)
            {
                int w = 40 + 7 * i, h = 36 + 5 * i;
                var px = new byte[3 * w * h];
                rng.NextBytes(px);
                File.WriteAllBytes(Path.Combine(root, cls, $"img{i}.png"), PngEncoder.Fast.Encode(new RgbImage(w, h, px)));
            }
        }
        // A JPEG header followed by garbage, and a zero-byte file.
        var corrupt = new byte[600];
        rng.NextBytes(corrupt);
        corrupt[0] = 0xFF; corrupt[1] = 0xD8; corrupt[2] = 0xFF; corrupt[3] = 0xE0;
        File.WriteAllBytes(Path.Combine(root, "shoes", "corrupt.jpg"), corrupt);
        File.WriteAllBytes(Path.Combine(root, "bags", "empty.png"), []);
        File.WriteAllText(Path.Combine(root, "bags", "notes.txt"), "not an image");
    }
}
