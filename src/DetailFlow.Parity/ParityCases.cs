using DetailFlow.Core.Decoding;
using DetailFlow.Core.Tokenizer;

namespace DetailFlow.Parity;

/// <summary>Every case kind of the fixture format (README "Cases"), in report order.</summary>
public static class ParityCases
{
    public static IReadOnlyList<IParityCase> All { get; } = With();

    /// <summary>Every case kind, the tokenizer decode case running on the backend <paramref name="decoder"/> builds (default TorchSharp).</summary>
    public static IReadOnlyList<IParityCase> With(Func<VqModel, IDecoderBackend>? decoder = null) =>
    [
        // Tokenizer cases
        new TokenizerEncodeCase(), new TokenizerDecodeCase(decoder), new VqQuantizerCase(), new XzAttentionMaskCase(),
        // GPT cases
        new GptForwardCase(), new GptGenerateCase(), new GptRopeAndMaskCase(),
        // Schedule
        new ResolutionTablesCase(),
    ];
}
