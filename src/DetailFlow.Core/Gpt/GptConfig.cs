using System.Globalization;
using System.Text.Json.Serialization;
using DetailFlow.Core.Checkpoints;

namespace DetailFlow.Core.Gpt;

/// <summary>
/// The GPT's <c>ModelArgs</c> (spec §4.4, §6.1), field for field, with the derived sizes as computed properties.
/// Presets (<see cref="Presets"/>) are the official <c>GPT_models</c> table.
/// </summary>
public sealed record GptConfig
{
    public string? Format { get; init; }
    public int Dim { get; init; } = 1024;
    public int NLayer { get; init; } = 24;
    public int NHead { get; init; } = 16;
    public int? NKvHead { get; init; }
    public int VocabSize { get; init; } = 8192;
    public int NumClasses { get; init; } = 1000;
    public int BlockSize { get; init; } = 128;
    public int GroupSize { get; init; } = 8;
    public int? CausalNum { get; init; }
    public int ClsTokenNum { get; init; } = 1;
    public int MultipleOf { get; init; } = 256;
    public double? FfnDimMultiplier { get; init; }
    public double RopeBase { get; init; } = 10000;
    public double NormEps { get; init; } = 1e-5;
    public double ClassDropoutProb { get; init; } = 0.1;
    public double TokenDropoutP { get; init; } = 0.1;
    public double AttnDropoutP { get; init; }
    public double ResidDropoutP { get; init; } = 0.1;
    public double FfnDropoutP { get; init; } = 0.1;

    /// <summary>C: the causal prefix; <c>causal_num</c> unset means the group size (spec §6.1).</summary>
    [JsonIgnore] public int EffectiveCausalNum => CausalNum ?? GroupSize;
    [JsonIgnore] public int HeadDim => Dim / NHead;
    [JsonIgnore] public int KvHeads => NKvHead ?? NHead;

    /// <summary>find_multiple(int(m·int(2·4·dim/3)), multiple_of) (spec §6.1): 2816 for GPT-L.</summary>
    [JsonIgnore]
    public int FfnHidden
    {
        get
        {
            int hidden = (int)(2.0 * (4 * Dim) / 3);
            if (FfnDimMultiplier is { } m) hidden = (int)(m * hidden);
            return hidden % MultipleOf == 0 ? hidden : hidden + MultipleOf - hidden % MultipleOf;
        }
    }

    /// <summary>The CFG null class (row <see cref="NumClasses"/> of the class table) exists iff class dropout > 0.</summary>
    [JsonIgnore] public bool HasNullClass => ClassDropoutProb > 0;
    [JsonIgnore] public int NullClass => NumClasses;
    [JsonIgnore] public int ClassTableRows => NumClasses + (HasNullClass ? 1 : 0);
    [JsonIgnore] public int NumSpecialTokens => GroupSize - 1;

    public static readonly IReadOnlyDictionary<string, (int NLayer, int NHead, int Dim)> Presets =
        new Dictionary<string, (int, int, int)>(StringComparer.OrdinalIgnoreCase)
        {
            ["GPT-B"] = (12, 12, 768), ["GPT-L"] = (24, 16, 1024), ["GPT-XL"] = (36, 20, 1280),
            ["GPT-XLPlus"] = (42, 22, 1408), ["GPT-XXL"] = (48, 24, 1536), ["GPT-XXLPlus"] = (48, 30, 1920),
            ["GPT-XXXL"] = (48, 40, 2560), ["GPT-1B"] = (22, 32, 2048), ["GPT-3B"] = (24, 32, 3200),
            ["GPT-7B"] = (32, 32, 4096),
        };

    public GptConfig WithPreset(string name) => Presets.TryGetValue(name, out var p)
        ? this with { NLayer = p.NLayer, NHead = p.NHead, Dim = p.Dim }
        : throw new ArgumentException($"unknown GPT size '{name}'; known: {string.Join(", ", Presets.Keys)}", nameof(name));

    /// <summary>Throws naming the first inconsistent field.</summary>
    public GptConfig Validate()
    {
        Check(Dim > 0 && NHead > 0 && Dim % NHead == 0, $"dim {Dim} must be a positive multiple of n_head {NHead}");
        Check(KvHeads == NHead, $"n_kv_head {NKvHead} != n_head {NHead}: grouped-query attention is not used by DetailFlow");
        Check(HeadDim % 4 == 0, $"head dim {HeadDim} must be a multiple of 4 (2-D rotary)");
        Check(GroupSize > 0 && BlockSize % GroupSize == 0, $"block_size {BlockSize} must be a multiple of group_size {GroupSize}");
        Check(EffectiveCausalNum > 0 && EffectiveCausalNum % GroupSize == 0 && EffectiveCausalNum < BlockSize,
            $"causal_num {EffectiveCausalNum} must be a positive multiple of group_size {GroupSize} below block_size {BlockSize}");
        Check(ClsTokenNum == 1, $"cls_token_num {ClsTokenNum}: only 1 is supported (c2i)");
        Check(VocabSize > 0 && NumClasses > 0 && NLayer > 0, "vocab_size, num_classes and n_layer must be positive");
        return this;
    }

    private static void Check(bool ok, string message)
    {
        if (!ok) throw new InvalidDataException($"invalid GPT config: {message}");
    }

    /// <summary>
    /// Reads a GPT config as <c>load_ar_model</c> does: <c>config.json</c>, with n_layer/n_head/dim taken from the
    /// <c>gpt_model</c> preset of <c>config.yaml</c> when that file exists (our own converted config has no yaml).
    /// </summary>
    public static GptConfig Load(string jsonPath, string? yamlPath = null)
    {
        var config = ConfigJson.Read<GptConfig>(jsonPath);
        if (yamlPath is not null && ConfigJson.ReadYamlScalars(yamlPath).TryGetValue("gpt_model", out var preset))
            config = config.WithPreset(preset);
        return config.Validate();
    }

    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"GPT dim {Dim}, {NLayer} layers, {NHead} heads, vocab {VocabSize}, {NumClasses} classes, N {BlockSize}, G {GroupSize}, C {EffectiveCausalNum}");
}
