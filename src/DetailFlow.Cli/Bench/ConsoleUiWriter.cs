using System.Text;
using DetailFlow.Cli.Console;

namespace DetailFlow.Cli.Bench;

/// <summary>A <see cref="TextWriter"/> that hands each completed line to <see cref="IConsoleUi.Line"/>.</summary>
internal sealed class ConsoleUiWriter(IConsoleUi ui) : TextWriter
{
    private readonly StringBuilder _line = new();

    public override Encoding Encoding => Encoding.UTF8;

    public override void Write(char value)
    {
        if (value == '\n')
        {
            ui.Line(_line.ToString().TrimEnd('\r'));
            _line.Clear();
        }
        else
        {
            _line.Append(value);
        }
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing && _line.Length > 0) ui.Line(_line.ToString());
        _line.Clear();
        base.Dispose(disposing);
    }
}
