using System.CommandLine;
using DetailFlow.Cli.Commands;
using DetailFlow.Cli.Console;

namespace DetailFlow.Cli;

/// <summary>The <c>detailflow</c> command tree (shared by <c>Program</c> and the CLI tests).</summary>
public static class CliRoot
{
    public static RootCommand Create(IConsoleUi ui) => new("detailflow — DetailFlow coarse-to-fine image generation: training, sampling, parity, conversion, benchmarks")
    {
        new InspectCommand(ui),
        new ParityCommand(ui),
        new ConvertCommand(ui),
        new ExportOnnxCommand(ui),
        new BenchCommand(ui),
        new TrainTokenizerCommand(ui),
        new ExtractCodesCommand(ui),
        new TrainArCommand(ui),
        new SampleCommand(ui),
        new EvalDefaultCommand(ui),
        new EvalTokenizerCommand(ui),
        new EvalC2iCommand(ui),
        new ConvertInceptionCommand(ui),
        new ContactSheetCommand(ui),
    };
}
