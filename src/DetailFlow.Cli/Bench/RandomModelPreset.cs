using DetailFlow.Core.Checkpoints;
using DetailFlow.Core.Gpt;
using DetailFlow.Core.Tokenizer;

namespace DetailFlow.Cli.Bench;

/// <summary>
/// Randomly initialised models for serving benchmarks (<c>detailflow bench model</c>): a GPT and the decoder half of a
/// tokenizer, written in the converted layout (official key names) that the service loads.
/// <list type="bullet">
/// <item><c>tiny</c>: the Api tests' tiny model (GPT 2 × 32, N = 32, G = C = 4, vocab 64, 10 classes; 32 px tokenizer).</item>
/// <item><c>mid</c>: GPT 8 × 512 (8 heads), vocab 8192, 1000 classes, N = 128, G = C = 8; DetailFlow-16-sized decoder.</item>
/// <item><c>gpt-l</c>: GPT-L (24 × 1024, 16 heads, 326 M parameters), same vocabulary and layout; DetailFlow-16-sized decoder.</item>
/// </list>
/// </summary>
public sealed record RandomModelPreset(string Name, GptConfig Gpt, TokenizerConfig Tokenizer)
{
    public static IReadOnlyList<RandomModelPreset> All { get; } =
    [
        new("tiny",
            new GptConfig { Dim = 32, NLayer = 2, NHead = 2, VocabSize = 64, NumClasses = 10, BlockSize = 32, GroupSize = 4, CausalNum = 4, MultipleOf = 32 },
            new TokenizerConfig
            {
                ImageSize = 32, MaxImageSize = 32, CodebookSize = 64, CodebookEmbedDim = 8, EncoderModel = "tiny", DecoderModel = "tiny",
                EncPretrained = false, NumLatentTokens = 32, EncPatchSize = 4, DecPatchSize = 4, GroupSize = 4,
                StandInSiglip2Config = new VitConfig { HiddenSize = 32, IntermediateSize = 64, NumHiddenLayers = 1, NumAttentionHeads = 2, NumPatches = 64, PatchSize = 4 },
            }.Resolve()),
        new("mid", Released(dim: 512, layers: 8, heads: 8), TokenizerPresets.DetailFlow16),
        new("gpt-l", Released(dim: 1024, layers: 24, heads: 16), TokenizerPresets.DetailFlow16),
    ];

    public static RandomModelPreset? Find(string name) => All.FirstOrDefault(p => p.Name.Equals(name, StringComparison.OrdinalIgnoreCase));

    private static GptConfig Released(int dim, int layers, int heads) =>
        new() { Dim = dim, NLayer = layers, NHead = heads, VocabSize = 8192, NumClasses = 1000, BlockSize = 128, GroupSize = 8 };

    /// <summary>
    /// Builds both models with seeded random weights and writes gpt.* and tokenizer.* into <paramref name="outDir"/>
    /// (the tokenizer's decoder half only unless <paramref name="decoderOnly"/> is false: serving needs no encoder).
    /// </summary>
    public (ModelConverter.Converted Gpt, ModelConverter.Converted Tokenizer) Write(string outDir, int seed, bool decoderOnly = true)
    {
        TorchSharp.torch.manual_seed(seed);
        using var gpt = new GptTransformer(Gpt);
        var gptFiles = ModelConverter.SaveGpt(gpt, outDir);
        using var tokenizer = new VqModel(Tokenizer, decoderOnly);
        return (gptFiles, ModelConverter.SaveTokenizer(tokenizer, outDir));
    }
}
