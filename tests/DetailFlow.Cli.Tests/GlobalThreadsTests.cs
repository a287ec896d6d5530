using System.CommandLine;
using System.Text.Json;

namespace DetailFlow.Cli.Tests;

/// <summary><c>--threads</c> is one global option: every command takes it, and it sets the command thread's count.</summary>
public sealed class GlobalThreadsTests
{
    private static IEnumerable<Command> Leaves(Command command) =>
        command.Subcommands.Count == 0 ? [command] : command.Subcommands.SelectMany(Leaves);

    private static IEnumerable<string> PathOf(Command leaf, RootCommand root)
    {
        var path = new List<string>();
        for (Command? c = leaf; c is not null && c != root; c = c.Parents.OfType<Command>().FirstOrDefault()) path.Insert(0, c.Name);
        return path;
    }

    [Fact]
    public void EveryCommandTakesTheGlobalThreadsOption()
    {
        var root = CliRoot.Create(new RecordingUi());
        foreach (var leaf in Leaves(root))
        {
            var errors = root.Parse([.. PathOf(leaf, root), "--threads", "2"]).Errors.Select(e => e.Message);
            Assert.DoesNotContain(errors, e => e.Contains("--threads", StringComparison.Ordinal));
        }
    }

    [Fact]
    public async Task TheCountIsSetOnTheThreadThatRunsTheCommand()
    {
        // 3 differs from libtorch's default on a 2-core machine (2) and on a large one, so the check can fail.
        var ui = new RecordingUi();
        int exit = await CliRoot.Create(ui).Parse(["bench", "midflight", "--preset", "tiny", "--background", "1", "--probes", "1", "--threads", "3", "--json"])
            .InvokeAsync(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
        Assert.Equal(ExitCodes.Success, exit);
        var report = JsonDocument.Parse(ui.Lines.Single(l => l.StartsWith('{'))).RootElement;
        Assert.Equal(3, report.GetProperty("torch_threads").GetInt32());
    }

    [Fact]
    public async Task ANonPositiveCountIsRefused()
    {
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => CliRoot.Create(new RecordingUi())
            .Parse(["bench", "midflight", "--preset", "tiny", "--threads", "0"])
            .InvokeAsync(new InvocationConfiguration { EnableDefaultExceptionHandler = false }));
    }
}
