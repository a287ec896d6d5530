using System.Text.Json.Serialization;
using DetailFlow.Core.Checkpoints;

namespace DetailFlow.Core.Tokenizer;

/// <summary>
/// The tokenizer's <c>ModelArgs</c> (spec §4.2) plus what the official loader reads from <c>config.yaml</c>
/// (<c>degradation_power</c>, §4.3) and the resolved encoder/decoder tower sizes (§2.1, <c>build_encoder</c> /
/// <c>build_decoder</c>). <c>detailflow convert</c> writes this record with every section explicit.
/// </summary>
public sealed record TokenizerConfig
{
    public string? Format { get; init; }
    public int ImageSize { get; init; } = 256;
    public int MaxImageSize { get; init; } = 256;
    public int CodebookSize { get; init; } = 8192;
    public int CodebookEmbedDim { get; init; } = 8;
    public bool CodebookL2Norm { get; init; } = true;
    public bool CodebookShowUsage { get; init; } = true;
    public double CommitLossBeta { get; init; } = 0.25;
    public double EntropyLossRatio { get; init; }
    public string EncType { get; init; } = "siglip2";
    public string DecType { get; init; } = "siglip2";
    public string EncoderModel { get; init; } = "siglip2_base";
    public string DecoderModel { get; init; } = "siglip2_base";
    public bool EncPretrained { get; init; } = true;
    public bool DecPretrained { get; init; }
    public int NumLatentTokens { get; init; } = 128;
    public int EncPatchSize { get; init; } = 16;
    public int DecPatchSize { get; init; } = 16;
    public bool CausalEncoder { get; init; } = true;
    public bool CausalDecoder { get; init; }
    public int GroupSize { get; init; } = 8;
    public int? CausalNum { get; init; }
    public bool CorrectionTraining { get; init; } = true;
    public double GlobalTokenLossWeight { get; init; }

    /// <summary>p of the resolution schedule (<c>config.yaml: degradation_power</c>; 1.5 for every release).</summary>
    public double DegradationPower { get; init; } = 1.5;

    /// <summary>Resolved encoder tower; null in an official config until <see cref="Resolve"/>.</summary>
    public VitConfig? Encoder { get; init; }
    public VitConfig? Decoder { get; init; }

    /// <summary>The SigLIP2 base config a fixture generator substituted for the HF download (fixtures only).</summary>
    [JsonPropertyName("_stand_in_siglip2_config")]
    public VitConfig? StandInSiglip2Config { get; init; }

    [JsonIgnore] public int EffectiveCausalNum => CausalNum ?? GroupSize;
    [JsonIgnore] public VitConfig Enc => Encoder ?? throw new InvalidOperationException("tokenizer config not resolved");
    [JsonIgnore] public VitConfig Dec => Decoder ?? throw new InvalidOperationException("tokenizer config not resolved");

    /// <summary>
    /// Fills <see cref="Encoder"/>/<see cref="Decoder"/> as the official builders do: start from the so400m config (or
    /// the stand-in), then apply the size named by <c>encoder_model</c>/<c>decoder_model</c>: siglip2_base pretrained →
    /// first 12 layers; siglip2_base from scratch → 768 hidden, 12 heads, 12 layers, 4·768 MLP; siglip2_large → 16
    /// layers; siglip2 → all layers. A name the builders do not know keeps the base config (fixture stand-ins).
    /// </summary>
    public TokenizerConfig Resolve()
    {
        var baseVit = StandInSiglip2Config ?? VitConfig.So400m;
        var resolved = this with
        {
            Encoder = Encoder ?? Tower(baseVit, EncoderModel, EncPatchSize, EncPretrained),
            Decoder = Decoder ?? Tower(baseVit, DecoderModel, DecPatchSize, DecPretrained),
        };
        return resolved.Validate();
    }

    private static VitConfig Tower(VitConfig b, string model, int patchSize, bool pretrained) => (model switch
    {
        "siglip2_base" when pretrained => b with { NumHiddenLayers = 12 },
        "siglip2_base" => b with { NumHiddenLayers = 12, HiddenSize = 768, NumAttentionHeads = 12, IntermediateSize = 4 * 768 },
        "siglip2_large" => b with { NumHiddenLayers = 16 },
        _ => b,
    }) with { PatchSize = patchSize };

    public TokenizerConfig Validate()
    {
        void Check(bool ok, string m) { if (!ok) throw new InvalidDataException($"invalid tokenizer config: {m}"); }
        Check(EncType == "siglip2" && DecType == "siglip2", $"enc_type/dec_type '{EncType}'/'{DecType}': only siglip2 is supported");
        Check(GroupSize > 0 && NumLatentTokens % GroupSize == 0, $"num_latent_tokens {NumLatentTokens} must be a multiple of group_size {GroupSize}");
        Check(EffectiveCausalNum % GroupSize == 0, $"causal_num {EffectiveCausalNum} must be a multiple of group_size {GroupSize}");
        Check(MaxImageSize % DecPatchSize == 0 && MaxImageSize % EncPatchSize == 0, $"max_image_size {MaxImageSize} must be a multiple of the patch sizes");
        Check(!CausalDecoder, "causal_decoder=true is not used by any released model and is not supported");
        Check(CodebookSize > 0 && CodebookEmbedDim > 0, "codebook size and dim must be positive");
        Enc.Validate("encoder");
        Dec.Validate("decoder");
        return this;
    }

    /// <summary>Reads <c>config.json</c> (+ <c>degradation_power</c> from <c>config.yaml</c> when given) and resolves it.</summary>
    public static TokenizerConfig Load(string jsonPath, string? yamlPath = null)
    {
        var config = ConfigJson.Read<TokenizerConfig>(jsonPath);
        if (yamlPath is not null)
        {
            var yaml = ConfigJson.ReadYamlScalars(yamlPath);
            if (yaml.TryGetValue("degradation_power", out var p))
                config = config with { DegradationPower = double.Parse(p, System.Globalization.CultureInfo.InvariantCulture) };
        }
        return config.Resolve();
    }
}
