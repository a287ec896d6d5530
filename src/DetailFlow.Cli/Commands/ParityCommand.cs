using System.CommandLine;
using DetailFlow.Cli.Console;
using DetailFlow.Parity;

namespace DetailFlow.Cli.Commands;

/// <summary>
/// <c>detailflow parity --fixtures DIR</c>: every model and case of a fixtures folder, one line per case, then
/// <c>parity: P passed, F failed</c>; exit 1 when any case fails (a missing tensor or unknown kind is a failure).
/// </summary>
public sealed class ParityCommand : BaseCommand
{
    private static readonly Option<DirectoryInfo> s_fixtures = new("--fixtures")
    {
        Description = "Folder in the format of shared/fixtures/detailflow/README.md",
        Required = true,
    };

    private static readonly Option<bool> s_verbose = new("--verbose", "-v")
    {
        Description = "Also print every compared tensor and the failure details",
    };

    public ParityCommand(IConsoleUi ui) : base("parity", "Check the port against fixtures produced by the official implementation", ui)
    {
        Options.Add(s_fixtures);
        Options.Add(s_verbose);
        foreach (var o in DecoderBackendOptions.All) Options.Add(o);
    }

    protected override Task<int> ExecuteAsync(ParseResult parseResult, CancellationToken cancellationToken)
    {
        var dir = parseResult.GetValue(s_fixtures)!;
        bool verbose = parseResult.GetValue(s_verbose);
        if (!dir.Exists || !Directory.Exists(Path.Combine(dir.FullName, "cases")))
        {
            Ui.Error($"not a fixtures folder (no cases/ in it): {dir.FullName}");
            return Task.FromResult(ExitCodes.InvalidInput);
        }
        int passed = 0, failed = 0;
        var cases = ParityCases.With(model => DecoderBackendOptions.Create(parseResult, model));   // --decoder-backend onnx: the decode case on ORT
        foreach (var report in ParityRunner.Run(dir.FullName, cancellationToken, cases))
        {
            Ui.Line(report.Summary());
            if (verbose) foreach (var d in report.Details) Ui.Line("    " + d);
            foreach (var f in report.Failures) Ui.Line("    ! " + f);
            if (report.Passed) passed++; else failed++;
        }
        Ui.Line($"parity: {passed} passed, {failed} failed");
        return Task.FromResult(failed == 0 && passed > 0 ? ExitCodes.Success : ExitCodes.CheckFailed);
    }
}
