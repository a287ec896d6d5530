using System.Text.Json.Serialization;

namespace DetailFlow.Core.Tokenizer;

/// <summary>
/// One SigLIP2 vision tower (spec §2.1). Field names are the HF <c>Siglip2VisionConfig</c> names.
/// <see cref="So400m"/> is the <c>google/siglip2-so400m-patch16-naflex</c> config the official builder starts from.
/// </summary>
public sealed record VitConfig
{
    public int HiddenSize { get; init; } = 1152;
    public int IntermediateSize { get; init; } = 4304;
    public int NumHiddenLayers { get; init; } = 27;
    public int NumAttentionHeads { get; init; } = 16;
    /// <summary>Entries of the learned position table (a √n × √n grid): 256 = 16×16.</summary>
    public int NumPatches { get; init; } = 256;
    public int PatchSize { get; init; } = 16;
    public double LayerNormEps { get; init; } = 1e-6;

    [JsonIgnore] public int HeadDim => HiddenSize / NumAttentionHeads;
    [JsonIgnore] public int PositionGrid => (int)Math.Round(Math.Sqrt(NumPatches));

    public static VitConfig So400m { get; } = new();

    public void Validate(string which)
    {
        if (HiddenSize <= 0 || NumAttentionHeads <= 0 || HiddenSize % NumAttentionHeads != 0)
            throw new InvalidDataException($"invalid {which} config: hidden_size {HiddenSize} must be a multiple of num_attention_heads {NumAttentionHeads}");
        if (PositionGrid * PositionGrid != NumPatches)
            throw new InvalidDataException($"invalid {which} config: num_patches {NumPatches} is not a square");
        if (NumHiddenLayers <= 0 || IntermediateSize <= 0)
            throw new InvalidDataException($"invalid {which} config: layers and intermediate size must be positive");
    }
}
