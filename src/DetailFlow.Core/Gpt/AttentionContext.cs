using static TorchSharp.torch;

namespace DetailFlow.Core.Gpt;

/// <summary>
/// What a forward over a block of extended positions needs besides the hidden states:
/// <paramref name="Rotary"/> rows [B or 1, L, hd/2, 2] for the block's absolute positions, a boolean
/// <paramref name="Mask"/> (True = may attend) of shape [L, L] (no cache) or [B, 1, L, KeyCount] (cache), and for a
/// cached forward the <paramref name="Cache"/>, the absolute write positions [B, L] (<see cref="KvCache.TrashSlot"/>
/// for padding) and the number of key positions attended. A cached forward may be <b>packed</b>: the hidden states are
/// [1, T, D], only the T real positions of the [B, L] block, and <paramref name="Packed"/> [T] holds their flat
/// indices into B·L; the projections and the feed-forward then skip the padding, and the attention unpacks q, k, v to
/// [B, L] (zeros at padding) for the cache and SDPA and packs its output again. <paramref name="OnePass"/>: a cached forward attends with <see cref="CachedAttention"/>
/// instead of indexed writes and SDPA.
/// </summary>
public sealed record AttentionContext(Tensor Rotary, Tensor Mask, KvCache? Cache = null, Tensor? WriteIndex = null, long KeyCount = 0,
    Tensor? Packed = null, bool OnePass = false);
