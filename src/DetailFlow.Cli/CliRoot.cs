using System.CommandLine;
using DetailFlow.Cli.Commands;
using DetailFlow.Cli.Console;

namespace DetailFlow.Cli;

/// <summary>The <c>detailflow</c> command tree (shared by <c>Program</c> and the CLI tests).</summary>
public static class CliRoot
{
    /// <summary>
    /// libtorch intra-op threads of the run, for every command (a config file's <c>threads:</c> too); applied by
    /// <see cref="BaseCommand"/> on the thread that runs the command.
    /// </summary>
    public static readonly Option<int?> Threads = new("--threads")
    {
        Description = "libtorch intra-op threads (default: libtorch's, one per core; 1 is fastest for small models on a busy 2-core machine)",
        Recursive = true,
    };

    public static RootCommand Create(IConsoleUi ui) => new("detailflow — DetailFlow coarse-to-fine image generation: training, sampling, parity, conversion, benchmarks")
    {
        Threads,
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
