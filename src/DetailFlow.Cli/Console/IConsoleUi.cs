namespace DetailFlow.Cli.Console;

/// <summary>What commands may show; Spectre.Console stays behind it (Aspire CLI's IInteractionService).</summary>
public interface IConsoleUi
{
    /// <summary>A plain line (machine-readable output such as parity lines and JSON goes through here verbatim).</summary>
    void Line(string text);

    void Info(string text);

    void Success(string text);

    void Error(string text);

    void Table(string[] headers, IEnumerable<string[]> rows);
}
