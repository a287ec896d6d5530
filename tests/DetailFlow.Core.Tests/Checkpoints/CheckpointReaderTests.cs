using DetailFlow.Core.Checkpoints;
using DetailFlow.Parity;

namespace DetailFlow.Core.Tests.Checkpoints;

public class CheckpointReaderTests
{
    [Theory]
    [InlineData("gpt_tiny_c4", CheckpointEntry.Ema)]
    [InlineData("gpt_tiny_c8", CheckpointEntry.Ema)]
    [InlineData("vq_tiny", CheckpointEntry.Model)]
    public void FlatNestedAndRawCopiesReadIdentically(string folder, CheckpointEntry entry)
    {
        var report = new ParityReport(folder, "checkpoint");
        string dir = Path.Combine(TestFixtures.Root, folder);
        if (entry == CheckpointEntry.Ema) CheckpointParity.CheckGpt(dir, report);
        else CheckpointParity.CheckTokenizer(dir, report);
        Assert.True(report.Passed, string.Join("\n", report.Failures));
        Assert.True(report.ExactComparisons > 10);
    }

    [Fact]
    public void DescribeListsTheNestedEntriesOfAnOfficialCheckpoint()
    {
        // checkpoint.pt holds {"model", "ema"}; asking the GPT-without-EMA rule reads "model", asking "ema" reads ema.
        string path = Path.Combine(TestFixtures.Root, "gpt_tiny_c4", "checkpoint.pt");
        var (flat, keys) = CheckpointReader.Describe(path);
        Assert.False(flat);
        Assert.Equal(["ema", "model"], keys.Order());
    }

    [Fact]
    public void UnknownExtensionIsRejected()
    {
        string path = Path.GetTempFileName() + ".onnx";
        File.WriteAllText(path, "x");
        try
        {
            var e = Assert.Throws<NotSupportedException>(() => CheckpointReader.Read(path, CheckpointEntry.Model));
            Assert.Contains(".onnx", e.Message);
        }
        finally { File.Delete(path); }
    }
}
