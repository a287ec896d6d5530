using System.CommandLine;
using DetailFlow.Cli;
using DetailFlow.Cli.Console;
using DetailFlow.Core.Runtime;
using Spectre.Console;

OpenMpWaitPolicy.PreferPassive();   // before libtorch loads: idle OpenMP threads sleep instead of spinning
var ui = new SpectreConsoleUi(AnsiConsole.Console, System.Console.Out);
var root = CliRoot.Create(ui);

try
{
    // Ctrl+C cancels the token; training then finishes its step and writes a checkpoint, which may take a while.
    var invocation = new InvocationConfiguration { ProcessTerminationTimeout = TimeSpan.FromMinutes(10), EnableDefaultExceptionHandler = false };
    return await root.Parse(ConfigFileArguments.Expand(args)).InvokeAsync(invocation);
}
catch (OperationCanceledException)
{
    return ExitCodes.Cancelled;
}
catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException or InvalidDataException
                              or ArgumentException or NotSupportedException)
{
    ui.Error(e.Message);
    return ExitCodes.InvalidInput;
}
