using System.CommandLine;
using DetailFlow.Cli;
using DetailFlow.Core.Tests;

namespace DetailFlow.Cli.Tests;

/// <summary><c>detailflow parity</c> on the official fixtures, with the decoder on either backend.</summary>
public sealed class ParityCommandTests
{
    private static async Task<(int Exit, RecordingUi Ui)> Parity(params string[] extra)
    {
        var ui = new RecordingUi();
        int exit = await CliRoot.Create(ui).Parse(["parity", "--fixtures", TestFixtures.Root, .. extra])
            .InvokeAsync(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
        return (exit, ui);
    }

    [Theory]
    [InlineData("torch")]
    [InlineData("onnx")]
    public async Task EveryFixtureCasePasses_OnBothDecoderBackends(string backend)
    {
        var (exit, ui) = await Parity("--decoder-backend", backend);
        Assert.Equal(ExitCodes.Success, exit);
        Assert.Contains(ui.Lines, l => l.StartsWith("tokenizer_decode", StringComparison.Ordinal) && l.EndsWith("PASS", StringComparison.Ordinal));
        Assert.Contains(ui.Lines, l => l.StartsWith("parity: ", StringComparison.Ordinal) && l.EndsWith(", 0 failed", StringComparison.Ordinal));
    }

    [Fact]
    public async Task AFolderWithoutCases_IsRefusedWithAMessage()
    {
        var empty = Directory.CreateTempSubdirectory("parity-empty-");
        try
        {
            var ui = new RecordingUi();
            int exit = await CliRoot.Create(ui).Parse(["parity", "--fixtures", empty.FullName])
                .InvokeAsync(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
            Assert.Equal(ExitCodes.InvalidInput, exit);
            Assert.Contains(ui.Lines, l => l.StartsWith("error: not a fixtures folder", StringComparison.Ordinal));
        }
        finally { empty.Delete(recursive: true); }
    }
}
