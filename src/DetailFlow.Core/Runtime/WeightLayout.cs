namespace DetailFlow.Core.Runtime;

/// <summary>How linear weights are stored for inference (<see cref="PackedLinear"/>).</summary>
public enum WeightLayout
{
    /// <summary>Timed at load both ways at the model's shapes (<see cref="PackingProbe"/>); the faster one is kept.</summary>
    Auto,

    /// <summary>Row-major, as loaded.</summary>
    Plain,

    /// <summary>oneDNN's blocked layout, where libtorch provides it (bf16/fp16 on a CPU); plain elsewhere.</summary>
    Packed,
}

public static class WeightLayouts
{
    /// <summary>Parses auto, plain, packed (any case); false for anything else.</summary>
    public static bool TryParse(string text, out WeightLayout layout)
    {
        layout = text.Trim().ToLowerInvariant() switch
        {
            "auto" => WeightLayout.Auto,
            "plain" => WeightLayout.Plain,
            "packed" => WeightLayout.Packed,
            _ => (WeightLayout)(-1),
        };
        return Enum.IsDefined(layout);
    }
}
