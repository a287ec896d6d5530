using System.Globalization;
using System.Text.RegularExpressions;

namespace DetailFlow.Parity;

/// <summary>
/// A recorded Python call such as <c>create_group_causal_mask(128, 8, 8)</c> or
/// <c>f(a, b, base=10000)</c>: its function name, positional and keyword arguments (numbers and names only, the
/// form the fixture manifests use). An argument is read by position or by keyword, as Python binds it.
/// </summary>
public sealed partial class FixtureCall
{
    private readonly IReadOnlyList<string> _positional;
    private readonly IReadOnlyDictionary<string, string> _keywords;

    private FixtureCall(string function, IReadOnlyList<string> positional, IReadOnlyDictionary<string, string> keywords)
    {
        Function = function;
        _positional = positional;
        _keywords = keywords;
    }

    public string Function { get; }

    public static FixtureCall Parse(string text)
    {
        var m = CallPattern().Match(text);
        if (!m.Success) throw new InvalidDataException($"not a call: '{text}'");
        var positional = new List<string>();
        var keywords = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var raw in m.Groups["args"].Value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            int eq = raw.IndexOf('=');
            if (eq < 0)
            {
                if (keywords.Count > 0) throw new InvalidDataException($"positional argument after a keyword in '{text}'");
                positional.Add(raw);
            }
            else keywords[raw[..eq].Trim()] = raw[(eq + 1)..].Trim();
        }
        return new FixtureCall(m.Groups["fn"].Value, positional, keywords);
    }

    /// <summary>The argument bound to parameter <paramref name="name"/> at <paramref name="position"/>, else <paramref name="fallback"/>.</summary>
    public double Number(int position, string name, double? fallback = null)
    {
        string? raw = _keywords.TryGetValue(name, out var k) ? k : position < _positional.Count ? _positional[position] : null;
        if (raw is null)
            return fallback ?? throw new InvalidDataException($"{Function}(...): argument {position} ('{name}') is missing");
        return double.TryParse(raw, NumberStyles.Float, CultureInfo.InvariantCulture, out double v)
            ? v : throw new InvalidDataException($"{Function}(...): argument '{name}' = '{raw}' is not a number");
    }

    public int Int(int position, string name, int? fallback = null) => checked((int)Number(position, name, fallback));

    [GeneratedRegex(@"^\s*(?<fn>[A-Za-z_][\w.]*)\s*\((?<args>[^()]*)\)\s*$")]
    private static partial Regex CallPattern();
}
