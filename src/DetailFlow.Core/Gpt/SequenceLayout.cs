namespace DetailFlow.Core.Gpt;

/// <summary>
/// The extended sequence the GPT sees (spec §6.4): <c>[cls, z0..z(C−1), spe0..spe(G−2), zC..]</c> once at least C codes
/// are input, else <c>[cls, z0..]</c>. The logits at extended position p predict code p. Positions are 0-based.
/// </summary>
public sealed record SequenceLayout(int CausalNum, int GroupSize, int BlockSize)
{
    public static SequenceLayout Of(GptConfig config) => new(config.EffectiveCausalNum, config.GroupSize, config.BlockSize);

    /// <summary>Length of the extended sequence holding <paramref name="codeCount"/> input codes (L + G or L + 1).</summary>
    public int ExtendedLength(int codeCount) => codeCount >= CausalNum ? codeCount + GroupSize : codeCount + 1;

    /// <summary>
    /// How many codes the next model call produces after <paramref name="codeCount"/> codes: one during the causal
    /// phase, a group of G afterwards. Their logits sit at extended positions <c>[codeCount, ExtendedLength)</c>.
    /// </summary>
    public int CodesPerStep(int codeCount) => ExtendedLength(codeCount) - codeCount;

    public bool IsClassPosition(int position) => position == 0;

    public bool IsSpecialPosition(int position) => position > CausalNum && position < CausalNum + GroupSize;

    /// <summary>Index of the special token at <paramref name="position"/> (only for <see cref="IsSpecialPosition"/>).</summary>
    public int SpecialIndex(int position) => position - CausalNum - 1;

    /// <summary>The code index fed at extended position <paramref name="position"/>, or −1 for the class and special tokens.</summary>
    public int CodeAt(int position) => position switch
    {
        0 => -1,
        _ when position <= CausalNum => position - 1,
        _ when position < CausalNum + GroupSize => -1,
        _ => position - GroupSize,
    };

    /// <summary>
    /// The valid prefix lengths of the resolution schedule (spec §5, §12 item 18): 1..C, then multiples of G up to N.
    /// Every generation step ends on one of them.
    /// </summary>
    public bool IsOnSchedule(int prefixLength) =>
        (prefixLength >= 1 && prefixLength <= CausalNum)
        || (prefixLength > CausalNum && prefixLength <= BlockSize && prefixLength % GroupSize == 0);

    /// <summary>Every valid prefix length in increasing order.</summary>
    public IEnumerable<int> ScheduleLengths() => Enumerable.Range(1, BlockSize).Where(IsOnSchedule);
}
