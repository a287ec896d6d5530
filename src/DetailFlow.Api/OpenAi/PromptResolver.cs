using System.Globalization;

namespace DetailFlow.Api.OpenAi;

/// <summary>
/// An OpenAI <c>prompt</c> → a class id of a class-conditional model: a label (case-insensitive, surrounding spaces
/// ignored), one of a label's comma-separated synonyms (ImageNet style: "tench, Tinca tinca"), or the id as digits.
/// Anything else is refused with the closest labels, so a caller sees what the model can draw.
/// </summary>
public static class PromptResolver
{
    private const int Suggestions = 3;
    private const int MaxCompared = 64;   // longer prompts are cut before the edit distance (which is quadratic)

    public static long Resolve(string? prompt, IReadOnlyList<string> labels, int numClasses)
    {
        if (string.IsNullOrWhiteSpace(prompt))
            throw new OpenAiException(400, "prompt is required: a class label of the model (see GET /v1/models) or a class id.", "prompt");
        string wanted = prompt.Trim();
        if (wanted.All(char.IsAsciiDigit))
        {
            if (long.TryParse(wanted, NumberStyles.None, CultureInfo.InvariantCulture, out long id) && id < numClasses) return id;
            throw new OpenAiException(400, $"prompt '{Cut(wanted)}': class id out of range; the model has classes 0..{numClasses - 1}.", "prompt");
        }
        for (int i = 0; i < labels.Count && i < numClasses; i++)
            if (Names(labels[i]).Any(n => string.Equals(n, wanted, StringComparison.OrdinalIgnoreCase))) return i;
        throw new OpenAiException(400, Unknown(wanted, labels, numClasses), "prompt");
    }

    /// <summary>The label itself and, when it holds commas, each synonym.</summary>
    public static IEnumerable<string> Names(string label)
    {
        yield return label.Trim();
        if (!label.Contains(',')) yield break;
        foreach (var part in label.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)) yield return part;
    }

    /// <summary>The labels nearest to <paramref name="prompt"/> by edit distance (over every synonym), best first.</summary>
    public static IReadOnlyList<string> Closest(string prompt, IReadOnlyList<string> labels, int count = Suggestions)
    {
        string p = Cut(prompt).ToLowerInvariant();
        return labels.Select(l => (Label: l, Distance: Names(l).Min(n => Distance(p, Cut(n).ToLowerInvariant()))))
            .OrderBy(e => e.Distance).ThenBy(e => e.Label, StringComparer.Ordinal).Take(count).Select(e => e.Label).ToArray();
    }

    private static string Unknown(string prompt, IReadOnlyList<string> labels, int numClasses)
    {
        string head = $"prompt '{Cut(prompt)}' is not a class of this model: give a class label or synonym (see GET /v1/models) or a class id 0..{numClasses - 1}.";
        if (labels.Count == 0) return head + " The model has no labels; use a class id.";
        return head + " Closest labels: " + string.Join("; ", Closest(prompt, labels).Select(l => $"'{l}'")) + ".";
    }

    /// <summary>Levenshtein distance (two rows).</summary>
    internal static int Distance(string a, string b)
    {
        var previous = new int[b.Length + 1];
        var current = new int[b.Length + 1];
        for (int j = 0; j <= b.Length; j++) previous[j] = j;
        for (int i = 1; i <= a.Length; i++)
        {
            current[0] = i;
            for (int j = 1; j <= b.Length; j++)
                current[j] = Math.Min(Math.Min(current[j - 1] + 1, previous[j] + 1), previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1));
            (previous, current) = (current, previous);
        }
        return previous[b.Length];
    }

    private static string Cut(string s) => s.Length <= MaxCompared ? s : s[..MaxCompared];
}
