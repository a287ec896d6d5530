using TorchSharp;
using static TorchSharp.torch;

namespace DetailFlow.Core.Gpt;

/// <summary>
/// Preallocated per-layer key/value buffers [rows, H, S, hd] (gpt-fast's <c>KVCache</c>, spec §7.4), deliberately not a
/// module: weights are shared by every batch, a cache belongs to one. S = N + 1: the extended positions 0..N−1 plus one
/// trash slot (<see cref="TrashSlot"/>) where padded positions of a batch are written; every mask hides it.
/// Batch row r of a forward uses cache row r; a forward over B rows uses rows 0..B−1.
/// </summary>
public sealed class KvCache : IDisposable
{
    private readonly Tensor[] _keys;
    private readonly Tensor[] _values;
    private readonly Tensor _rowIndex;   // [MaxRows, 1]: cache row r, broadcast over a write's positions

    public KvCache(GptConfig config, int maxRows, ScalarType dtype = ScalarType.Float32, Device? device = null)
    {
        if (maxRows <= 0) throw new ArgumentOutOfRangeException(nameof(maxRows), maxRows, "a KV cache needs at least one row");
        MaxRows = maxRows;
        Positions = config.BlockSize + 1;
        _keys = new Tensor[config.NLayer];
        _values = new Tensor[config.NLayer];
        _rowIndex = torch.arange(maxRows, ScalarType.Int64, device).unsqueeze(1).DetachFromDisposeScope();
        for (int i = 0; i < config.NLayer; i++)
        {
            _keys[i] = torch.zeros([maxRows, config.NHead, Positions, config.HeadDim], dtype, device).DetachFromDisposeScope();
            _values[i] = torch.zeros([maxRows, config.NHead, Positions, config.HeadDim], dtype, device).DetachFromDisposeScope();
        }
        Bytes = _keys.Concat(_values).Sum(t => t.numel() * t.ElementSize);
    }

    private KvCache(KvCache whole, int start, int count)
    {
        MaxRows = count;
        Positions = whole.Positions;
        _keys = whole._keys.Select(t => t.narrow(0, start, count).DetachFromDisposeScope()).ToArray();
        _values = whole._values.Select(t => t.narrow(0, start, count).DetachFromDisposeScope()).ToArray();
        _rowIndex = whole._rowIndex.narrow(0, 0, count).DetachFromDisposeScope();
        Bytes = _keys.Concat(_values).Sum(t => t.numel() * t.ElementSize);
    }

    /// <summary>
    /// Rows [<paramref name="start"/>, start + count) as a cache of their own (views of these buffers, row r of it is
    /// row start + r here), for a forward over some of the live rows. Dispose it after the forward.
    /// </summary>
    public KvCache Rows(int start, int count)
    {
        if (start < 0 || count <= 0 || start + count > MaxRows)
            throw new ArgumentOutOfRangeException(nameof(count), $"rows [{start}, {start + count}) are not within the cache's {MaxRows}");
        using var noGrad = torch.no_grad();
        return new KvCache(this, start, count);
    }

    public int MaxRows { get; }

    /// <summary>S: extended positions plus the trash slot.</summary>
    public int Positions { get; }

    /// <summary>The slot padded positions are written to; never attended.</summary>
    public int TrashSlot => Positions - 1;

    public int Layers => _keys.Length;

    /// <summary>Bytes of the key and value buffers (kept as a number: readable after disposal, from any thread).</summary>
    public long Bytes { get; }

    /// <summary>
    /// Writes k, v [B, H, L, hd] of one layer at the absolute positions <paramref name="writeIndex"/> [B, L] of rows
    /// 0..B−1 and returns the keys and values of positions 0..keyCount−1 of those rows ([B, H, keyCount, hd] views).
    /// </summary>
    public (Tensor Keys, Tensor Values) Update(int layer, Tensor writeIndex, Tensor k, Tensor v, long keyCount)
    {
        long rows = k.shape[0];
        if (rows > MaxRows) throw new ArgumentOutOfRangeException(nameof(k), rows, $"batch of {rows} rows exceeds the cache's {MaxRows}");
        if (keyCount <= 0 || keyCount > TrashSlot)
            throw new ArgumentOutOfRangeException(nameof(keyCount), keyCount, $"key count must be in 1..{TrashSlot}");
        // cache[b, :, writeIndex[b, l]] = k[b, :, l] as one indexed write: scatter_ did the same but converted the whole
        // reduced-precision buffer to float32 and back on the CPU (6× slower at 32 rows; docs/performance.md).
        var row = TensorIndex.Tensor(_rowIndex.narrow(0, 0, rows));                        // [B, 1], broadcast to [B, L]
        var keys = _keys[layer].narrow(0, 0, rows);
        var values = _values[layer].narrow(0, 0, rows);
        keys.index_put_(k.transpose(1, 2), row, TensorIndex.Colon, TensorIndex.Tensor(writeIndex));   // [B, L, H, hd]
        values.index_put_(v.transpose(1, 2), row, TensorIndex.Colon, TensorIndex.Tensor(writeIndex));
        return (keys.narrow(2, 0, keyCount), values.narrow(2, 0, keyCount));
    }

    /// <summary>Layer <paramref name="layer"/>'s key buffer [MaxRows, H, S, hd], for <see cref="CachedAttention"/>.</summary>
    internal Tensor KeyBuffer(int layer) => _keys[layer];

    /// <summary>Layer <paramref name="layer"/>'s value buffer [MaxRows, H, S, hd].</summary>
    internal Tensor ValueBuffer(int layer) => _values[layer];

    /// <summary>Copies cache row <paramref name="from"/> into row <paramref name="to"/> (all layers), to keep live rows packed.</summary>
    public void CopyRow(int from, int to)
    {
        if (from == to) return;
        using var noGrad = torch.no_grad();
        using var scope = torch.NewDisposeScope();
        for (int i = 0; i < _keys.Length; i++)
        {
            _keys[i][to].copy_(_keys[i][from]);
            _values[i][to].copy_(_values[i][from]);
        }
    }

    /// <summary>Exchanges cache rows <paramref name="a"/> and <paramref name="b"/> (all layers).</summary>
    public void SwapRows(int a, int b)
    {
        if (a == b) return;
        using var noGrad = torch.no_grad();
        using var scope = torch.NewDisposeScope();
        foreach (var buffer in _keys.Concat(_values))
        {
            var kept = buffer[a].clone();
            buffer[a].copy_(buffer[b]);
            buffer[b].copy_(kept);
        }
    }

    public void Dispose()
    {
        _rowIndex.Dispose();
        foreach (var t in _keys) t.Dispose();
        foreach (var t in _values) t.Dispose();
    }
}
