using System.Globalization;
using DetailFlow.Core.Gpt;

namespace DetailFlow.Core.Generation;

/// <summary>
/// Per-request sampling settings (spec §7.2–§7.3). Shared by the HTTP request and the CLI so each default lives here.
/// <list type="bullet">
/// <item><see cref="CfgScale"/>: guidance scale s ≥ 1; 1.0 = no guidance and no null-class rows (unlike the official
/// sampler, which requires s &gt; 1). Default 1.5 (the official evaluation script's default).</item>
/// <item><see cref="GradualCfg"/>: on group step g the scale is s·(n_groups − g + 1)/(n_groups + 1); causal steps keep s.</item>
/// <item><see cref="Temperature"/>: logits are divided by max(T, 1e−5); must not be negative.</item>
/// <item><see cref="TopK"/>: null = off; else 1..V (ties at the k-th value are kept). V itself filters nothing.</item>
/// <item><see cref="TopP"/>: nucleus mass in (0, 1]; 1 = off.</item>
/// <item><see cref="Greedy"/>: arg-max instead of a draw.</item>
/// <item><see cref="Seed"/>: the request's random stream; code k is drawn from a generator seeded by (seed, k).</item>
/// </list>
/// </summary>
public sealed record SamplingOptions
{
    /// <summary>Smallest divisor applied to the logits (official <c>max(temperature, 1e-5)</c>).</summary>
    public const double MinTemperature = 1e-5;

    public double CfgScale { get; init; } = 1.5;
    public bool GradualCfg { get; init; }
    public double Temperature { get; init; } = 1.0;
    public int? TopK { get; init; }
    public double TopP { get; init; } = 1.0;
    public bool Greedy { get; init; }
    public long Seed { get; init; }

    /// <summary>Whether null-class rows are run (s &gt; 1).</summary>
    public bool UsesGuidance => CfgScale != 1.0;

    /// <summary>
    /// Throws <see cref="ArgumentException"/> naming the first bad field (and class label, when given) for the model
    /// <paramref name="config"/>. Call before any tensor work.
    /// </summary>
    public SamplingOptions Validate(GptConfig config, IReadOnlyList<long>? classLabels = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        if (!double.IsFinite(CfgScale) || CfgScale < 1.0)
            throw Bad(nameof(CfgScale), CfgScale, "must be a finite number ≥ 1 (1 = no guidance)");
        if (UsesGuidance && !config.HasNullClass)
            throw Bad(nameof(CfgScale), CfgScale, "needs the null class, but the model has no class dropout (no null row)");
        if (!double.IsFinite(Temperature) || Temperature < 0)
            throw Bad(nameof(Temperature), Temperature, "must be a finite number ≥ 0");
        if (TopK is { } k && (k < 1 || k > config.VocabSize))
            throw Bad(nameof(TopK), k, $"must be in 1..{config.VocabSize} (the vocabulary size), or unset for no top-k");
        if (!double.IsFinite(TopP) || TopP <= 0 || TopP > 1)
            throw Bad(nameof(TopP), TopP, "must be in (0, 1]");
        if (classLabels is not null)
            foreach (long label in classLabels)
                if (label < 0 || label >= config.NumClasses)
                    throw Bad("ClassLabel", label, $"unknown class; the model has classes 0..{config.NumClasses - 1}");
        return this;
    }

    private static ArgumentOutOfRangeException Bad(string field, object value, string rule) =>
        new(field, value, string.Create(CultureInfo.InvariantCulture, $"{field} = {value}: {rule}"));
}
