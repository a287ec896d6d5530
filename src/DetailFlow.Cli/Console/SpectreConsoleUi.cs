using Spectre.Console;

namespace DetailFlow.Cli.Console;

/// <summary>Spectre for decoration; machine-readable lines go to <paramref name="output"/> verbatim (no wrapping).</summary>
public sealed class SpectreConsoleUi(IAnsiConsole console, TextWriter output) : IConsoleUi
{
    public void Line(string text) => output.WriteLine(text);

    public void Info(string text) => console.MarkupLine($"[grey]{Markup.Escape(text)}[/]");

    public void Success(string text) => console.MarkupLine($"[green]{Markup.Escape(text)}[/]");

    public void Error(string text) => console.MarkupLine($"[red]error:[/] {Markup.Escape(text)}");

    public void Table(string[] headers, IEnumerable<string[]> rows)
    {
        var table = new Table().Border(TableBorder.Simple);
        for (int i = 0; i < headers.Length; i++)
        {
            var column = new TableColumn(Markup.Escape(headers[i]));
            table.AddColumn(i == 0 ? column.LeftAligned() : column.RightAligned());
        }
        foreach (var r in rows) table.AddRow(r.Select(Markup.Escape).ToArray());
        console.Write(table);
    }

    public T Progress<T>(string title, long total, long plainEvery, Func<Action<long, string>, T> work)
    {
        if (!console.Profile.Capabilities.Interactive)
        {
            return work((done, status) =>
            {
                if (plainEvery > 0 && (done % plainEvery == 0 || done == total)) output.WriteLine($"{title} {done}/{total} {status}");
            });
        }
        T result = default!;
        console.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(),
                new RemainingTimeColumn(), new SpinnerColumn())
            .Start(ctx =>
            {
                var task = ctx.AddTask(Markup.Escape(title), maxValue: Math.Max(total, 1));
                result = work((done, status) =>
                {
                    task.Value = done;
                    task.Description = Markup.Escape($"{title} {done}/{total} {status}");
                });
                task.Value = task.MaxValue;
            });
        return result;
    }
}
