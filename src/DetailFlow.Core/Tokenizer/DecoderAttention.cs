namespace DetailFlow.Core.Tokenizer;

/// <summary>How the tokenizer decoder's layers attend (<see cref="HeadwiseProbe"/>).</summary>
public enum DecoderAttention
{
    /// <summary>Timed both ways at load at each scheduled sequence length; head by head from the length where it wins on.</summary>
    Auto,

    /// <summary>libtorch's fused <c>scaled_dot_product_attention</c>.</summary>
    Sdpa,

    /// <summary><see cref="HeadwiseAttention"/> wherever it fits (float32 or bfloat16 on a CPU).</summary>
    Headwise,
}
