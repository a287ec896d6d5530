using System.CommandLine;
using DetailFlow.Cli;
using DetailFlow.Cli.Commands;
using DetailFlow.Cli.Console;
using Spectre.Console;

var ui = new SpectreConsoleUi(AnsiConsole.Console, System.Console.Out);
var root = new RootCommand("detailflow — DetailFlow coarse-to-fine image generation: parity, conversion, benchmarks")
{
    new InspectCommand(ui),
    new ParityCommand(ui),
    new ConvertCommand(ui),
    new BenchCommand(ui),
};

try
{
    return await root.Parse(args).InvokeAsync();
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
