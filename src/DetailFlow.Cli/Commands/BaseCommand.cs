using System.CommandLine;
using DetailFlow.Cli.Console;
using DetailFlow.Core.Runtime;

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
            ConfigureThreads(parseResult);   // on the thread that runs the command: the count is per thread
            return await ExecuteAsync(parseResult, cancellationToken);
        });
    }

    protected IConsoleUi Ui { get; }

    private static void ConfigureThreads(ParseResult parseResult)
    {
        int? threads = parseResult.GetValue(CliRoot.Threads);
        if (threads is < 1) throw new ArgumentOutOfRangeException("--threads", threads, "threads must be positive");
        TorchThreads.Configure(threads ?? 0);
    }

    protected abstract Task<int> ExecuteAsync(ParseResult parseResult, CancellationToken cancellationToken);
}
