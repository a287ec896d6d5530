using System.CommandLine;
using DetailFlow.Cli.Console;

namespace DetailFlow.Cli.Commands;

/// <summary>A command that returns an exit code and receives the Ctrl+C token (Aspire CLI's BaseCommand).</summary>
public abstract class BaseCommand : Command
{
    protected BaseCommand(string name, string description, IConsoleUi ui) : base(name, description)
    {
        Ui = ui;
        SetAction((parseResult, cancellationToken) => ExecuteAsync(parseResult, cancellationToken));
    }

    protected IConsoleUi Ui { get; }

    protected abstract Task<int> ExecuteAsync(ParseResult parseResult, CancellationToken cancellationToken);
}
