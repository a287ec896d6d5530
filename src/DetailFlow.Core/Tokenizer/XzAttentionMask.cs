using TorchSharp;
using static TorchSharp.torch;

namespace DetailFlow.Core.Tokenizer;

/// <summary>
/// The tokenizer's x/z attention masks (spec §2.6, official <c>create_attn_mask_for_x_z</c>). The sequence is n
/// patch tokens x followed by m latent tokens z. The boolean mask uses the official convention
/// <b>True = BLOCKED</b> (the opposite of the GPT mask, spec §12 item 1); <see cref="ToAdditive"/> turns it into the
/// float mask added to the attention scores (0 allowed, the dtype's most negative finite value blocked).
/// </summary>
public static class XzAttentionMask
{
    /// <summary>
    /// [n+m, n+m] bool, True = blocked. With <paramref name="zCausal"/>, latent groups of <paramref name="groupSize"/>
    /// starting before <paramref name="causalNum"/> are causal inside and blind to later latents; later groups see
    /// their whole group and every earlier one. <paramref name="causalNum"/> null means the group size.
    /// Encoder: (zCausal, xSeeZ: false, zSeeX: true); the decoder form (xSeeZ: true, zSeeX: false) is not used by
    /// the released non-causal decoders.
    /// </summary>
    public static Tensor Create(int n, int m, bool zCausal = false, bool xSeeZ = false, bool zSeeX = true,
        int groupSize = 1, int? causalNum = null)
    {
        if (n < 0) throw new ArgumentOutOfRangeException(nameof(n), n, "patch count must be ≥ 0");
        if (m < 0) throw new ArgumentOutOfRangeException(nameof(m), m, "latent count must be ≥ 0");
        if (groupSize <= 0 || m % groupSize != 0)
            throw new ArgumentException($"latent count {m} must be a multiple of the group size {groupSize}", nameof(groupSize));
        int c = causalNum ?? groupSize;
        if (causalNum is { } given)
        {
            if (given % groupSize != 0) throw new ArgumentException($"causal_num {given} must be a multiple of the group size {groupSize}", nameof(causalNum));
            if (given > m) throw new ArgumentException($"causal_num {given} cannot exceed the latent count {m}", nameof(causalNum));
        }

        int size = n + m;
        var blocked = new bool[size * size];
        void Block(int row0, int row1, int col0, int col1)
        {
            for (int r = row0; r < row1; r++)
                for (int col = col0; col < col1; col++) blocked[r * size + col] = true;
        }
        if (!xSeeZ) Block(0, n, n, size);
        if (!zSeeX) Block(n, size, 0, n);
        if (zCausal)
        {
            for (int start = n; start < size; start += groupSize)
            {
                int end = start + groupSize;
                if (start < n + c)
                {
                    // Causal group: strictly-upper triangle inside the group blocked, lower part and diagonal open.
                    for (int r = start; r < end; r++)
                        for (int col = start; col < end; col++) blocked[r * size + col] = col > r;
                }
                Block(start, end, end, size); // no latent sees a later group
            }
        }
        return torch.tensor(blocked, [size, size]);
    }

    /// <summary>Additive form: 0 where allowed, <c>finfo(dtype).min</c> where blocked (official encoder path).</summary>
    public static Tensor ToAdditive(Tensor blocked, ScalarType dtype)
    {
        if (blocked.dtype != ScalarType.Bool) throw new ArgumentException($"mask must be bool (True = blocked), got {blocked.dtype}", nameof(blocked));
        return torch.zeros(blocked.shape, dtype, blocked.device).masked_fill(blocked, torch.finfo(dtype).min);
    }
}
