using static TorchSharp.torch;

namespace DetailFlow.Core.Gpt;

/// <summary>
/// What a forward over a block of extended positions needs besides the hidden states:
/// <paramref name="Rotary"/> rows [B or 1, L, hd/2, 2] for the block's absolute positions, a boolean
/// <paramref name="Mask"/> (True = may attend) of shape [L, L] (no cache) or [B, 1, L, KeyCount] (cache), and for a
/// cached forward the <paramref name="Cache"/>, the absolute write positions [B, L] (<see cref="KvCache.TrashSlot"/>
/// for padding) and the number of key positions attended.
/// </summary>
public sealed record AttentionContext(Tensor Rotary, Tensor Mask, KvCache? Cache = null, Tensor? WriteIndex = null, long KeyCount = 0);
