namespace DetailFlow.Core.Parity;

/// <summary>Every case kind of the fixture format (README "Cases"), in report order.</summary>
public static class ParityCases
{
    public static IReadOnlyList<IParityCase> All { get; } =
    [
        // Tokenizer cases
        new TokenizerEncodeCase(), new TokenizerDecodeCase(), new VqQuantizerCase(), new XzAttentionMaskCase(),
        // GPT cases
        new GptForwardCase(), new GptGenerateCase(), new GptRopeAndMaskCase(),
        // Schedule
        new ResolutionTablesCase(),
    ];
}
