namespace DetailFlow.Core.Tokenizer;

/// <summary>
/// The released tokenizer configs as their <c>config.json</c> is expected to read (spec §1, §4.2; values not yet
/// confirmed against the files, spec §11 item 1): 256 px, patch 16, codebook 8192 × 8, G = 8, C unset (= 8),
/// so400m-based encoder (first 12 layers, pretrained) and a siglip2_base-sized decoder from scratch. For tests and
/// benchmarks with random weights; real models read their config beside the checkpoint.
/// </summary>
public static class TokenizerPresets
{
    public static TokenizerConfig DetailFlow16 { get; } = Released(128);
    public static TokenizerConfig DetailFlow32 { get; } = Released(256);
    public static TokenizerConfig DetailFlow64 { get; } = Released(512);

    private static TokenizerConfig Released(int tokens) => new TokenizerConfig
    {
        ImageSize = 256,
        MaxImageSize = 256,
        CodebookSize = 8192,
        CodebookEmbedDim = 8,
        CodebookL2Norm = true,
        CodebookShowUsage = true,
        EncType = "siglip2",
        DecType = "siglip2",
        EncoderModel = "siglip2_base",
        DecoderModel = "siglip2_base",
        EncPretrained = true,
        DecPretrained = false,
        NumLatentTokens = tokens,
        EncPatchSize = 16,
        DecPatchSize = 16,
        CausalEncoder = true,
        CausalDecoder = false,
        GroupSize = 8,
        CausalNum = null,
        CorrectionTraining = true,
        GlobalTokenLossWeight = 1,
        DegradationPower = 1.5,
    }.Resolve();
}
