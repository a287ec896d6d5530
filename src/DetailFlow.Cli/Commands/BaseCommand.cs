using System.CommandLine;
using DetailFlow.Cli.Console;

namespace DetailFlow.Cli.Commands;

/// <summary>A command that returns an exit code and receives the Ctrl+C token (Aspire CLI's BaseCommand).</summary>
public abstract class BaseCommand : Command
{
    protected BaseCommand(string name, string description, IConsoleUi ui) : base(name, description)
    {
        Ui = ui;
        // Yield first: System.CommandLine installs its Ctrl+C/SIGTERM handler only once the action has returned its
        // task, and most commands run synchronously (a training loop would otherwise be uninterruptible).
        SetAction(async (parseResult, cancellationToken) =>
        {
            await Task.Yield();
            return await ExecuteAsync(parseResult, cancellationToken);
        });
    }

    protected IConsoleUi Ui { get; }

    protected abstract Task<int> ExecuteAsync(ParseResult parseResult, CancellationToken cancellationToken);
}
