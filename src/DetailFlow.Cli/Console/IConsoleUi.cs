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

    /// <summary>
    /// Runs <paramref name="work"/> with a live progress bar of <paramref name="total"/> units; the work reports
    /// (units done, status text) through the callback it receives. Non-interactive output gets one plain line every
    /// <paramref name="plainEvery"/> units instead — what this default does for any UI without a live display.
    /// </summary>
    T Progress<T>(string title, long total, long plainEvery, Func<Action<long, string>, T> work) => work((done, status) =>
    {
        if (plainEvery > 0 && (done % plainEvery == 0 || done == total)) Line($"{title} {done}/{total} {status}");
    });
}
