using System.CommandLine;
using DetailFlow.Cli.Console;

namespace DetailFlow.Cli.Commands;

/// <summary><c>detailflow bench</c>: performance measurements (sub-commands).</summary>
public sealed class BenchCommand : Command
{
    public BenchCommand(IConsoleUi ui) : base("bench", "Measure generation (and decoding) speed")
    {
        Subcommands.Add(new BenchServeCommand(ui));
        Subcommands.Add(new BenchSoakCommand(ui));
        Subcommands.Add(new BenchGenerateCommand(ui));
        Subcommands.Add(new BenchModelCommand(ui));
        Subcommands.Add(new BenchMidFlightCommand(ui));
        Subcommands.Add(new BenchDecodeCommand(ui));
        Subcommands.Add(new BenchRooflineCommand(ui));
    }
}
