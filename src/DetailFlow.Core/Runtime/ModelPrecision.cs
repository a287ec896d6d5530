using static TorchSharp.torch;

namespace DetailFlow.Core.Runtime;

/// <summary>
/// The weight precision asked for: a fixed one, or <see cref="Auto"/> — chosen when the model loads (bf16 on a CUDA
/// device that supports it; on CPU the fastest candidate timed by <see cref="PrecisionProbe"/> at the model's shapes).
/// </summary>
public enum ModelPrecision
{
    Auto,
    Float32,
    BFloat16,
    Float16,
}

public static class ModelPrecisions
{
    /// <summary>The precisions <see cref="ModelPrecision.Auto"/> chooses among, fp32 first (the reference).</summary>
    public static IReadOnlyList<ScalarType> Candidates { get; } = [ScalarType.Float32, ScalarType.BFloat16, ScalarType.Float16];

    /// <summary>The fixed precision's scalar type; null for <see cref="ModelPrecision.Auto"/>.</summary>
    public static ScalarType? ToScalarType(this ModelPrecision precision) => precision switch
    {
        ModelPrecision.Float32 => ScalarType.Float32,
        ModelPrecision.BFloat16 => ScalarType.BFloat16,
        ModelPrecision.Float16 => ScalarType.Float16,
        _ => null,
    };

    /// <summary>fp32, bf16, fp16 (the names the CLI and the API print).</summary>
    public static string ShortName(ScalarType dtype) => dtype switch
    {
        ScalarType.Float32 => "fp32",
        ScalarType.BFloat16 => "bf16",
        ScalarType.Float16 => "fp16",
        _ => dtype.ToString().ToLowerInvariant(),
    };

    /// <summary>Parses auto, fp32, bf16, fp16 (or the enum names, any case); false for anything else.</summary>
    public static bool TryParse(string text, out ModelPrecision precision)
    {
        precision = text.Trim().ToLowerInvariant() switch
        {
            "auto" => ModelPrecision.Auto,
            "fp32" or "float32" => ModelPrecision.Float32,
            "bf16" or "bfloat16" => ModelPrecision.BFloat16,
            "fp16" or "float16" => ModelPrecision.Float16,
            _ => (ModelPrecision)(-1),
        };
        return Enum.IsDefined(precision);
    }

    /// <summary>Bytes per element of a floating-point weight type.</summary>
    public static int BytesPerElement(ScalarType dtype) => dtype == ScalarType.Float32 ? 4 : dtype == ScalarType.Float64 ? 8 : 2;
}
