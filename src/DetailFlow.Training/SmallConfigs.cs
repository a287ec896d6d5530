using DetailFlow.Core.Gpt;
using DetailFlow.Core.Tokenizer;

namespace DetailFlow.Training;

/// <summary>
/// Model sizes for the 2-core CPU machine (Fashion-MNIST padded to 32×32): the shipped <c>configs/small/*</c> files
/// hold the same values. The tokenizer keeps the released structure (SigLIP2-style encoder/decoder, causal encoder,
/// l2 VQ, G | N, C = G, self-correction) at patch 8, 16 tokens in groups of 4, 64-wide towers of 2 layers, and a
/// 512-entry codebook; the GPT is 4 layers × 128 wide over those 16 codes, 10 classes.
/// </summary>
public static class SmallConfigs
{
    public static VitConfig Tower { get; } = new()
    {
        HiddenSize = 64, IntermediateSize = 256, NumHiddenLayers = 2, NumAttentionHeads = 4, NumPatches = 16, PatchSize = 8,
    };

    public static TokenizerConfig Tokenizer { get; } = new TokenizerConfig
    {
        ImageSize = 32, MaxImageSize = 32, CodebookSize = 512, CodebookEmbedDim = 8, CodebookL2Norm = true,
        NumLatentTokens = 16, GroupSize = 4, CausalNum = 4, EncPatchSize = 8, DecPatchSize = 8,
        EncPretrained = false, DecPretrained = false, CausalEncoder = true, CausalDecoder = false,
        CorrectionTraining = true, GlobalTokenLossWeight = 0, DegradationPower = 1.5,
        Encoder = Tower, Decoder = Tower,
    }.Resolve();

    public static GptConfig Gpt { get; } = new GptConfig
    {
        Dim = 128, NLayer = 4, NHead = 4, VocabSize = 512, NumClasses = 10, BlockSize = 16, GroupSize = 4, CausalNum = 4,
        MultipleOf = 64,
    }.Validate();
}
