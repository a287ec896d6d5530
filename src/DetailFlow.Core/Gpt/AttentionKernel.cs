namespace DetailFlow.Core.Gpt;

/// <summary>How a KV-cached forward attends (<see cref="AttentionProbe"/>).</summary>
public enum AttentionKernel
{
    /// <summary>Timed at load both ways at a step's shapes, at one request and at a full batch; the faster one is kept per batch size.</summary>
    Auto,

    /// <summary>The cache's indexed writes and libtorch's SDPA.</summary>
    Sdpa,

    /// <summary><see cref="CachedAttention"/> wherever it applies (CPU, float32 or bfloat16).</summary>
    OnePass,
}
