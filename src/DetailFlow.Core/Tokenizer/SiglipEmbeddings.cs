using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace DetailFlow.Core.Tokenizer;

/// <summary>
/// HF <c>Siglip2VisionEmbeddings</c> as DetailFlow uses it (spec §2.1, §2.4): <c>patch_embedding</c>
/// Linear(p·p·3→D) (encoder only; the decoder replaces it by an identity and has no such keys) and the learned
/// <c>position_embedding</c> table [n, D], resized per token grid. Resized tables are cached per grid and dtype/device;
/// call <see cref="ClearPositionCache"/> after overwriting the weights in place.
/// </summary>
public sealed class SiglipEmbeddings : nn.Module
{
    public readonly Linear? patch_embedding;
    public readonly Embedding position_embedding;

    private readonly Dictionary<(int, int), Tensor> _positionCache = [];
    private readonly Lock _cacheLock = new();

    public SiglipEmbeddings(VitConfig config, bool withPatchEmbedding) : base(nameof(SiglipEmbeddings))
    {
        if (withPatchEmbedding) patch_embedding = nn.Linear(3L * config.PatchSize * config.PatchSize, config.HiddenSize);
        position_embedding = nn.Embedding(config.NumPatches, config.HiddenSize);
        RegisterComponents();
    }

    /// <summary>The position table resized to gh × gw, [gh·gw, D] (a cached tensor: do not dispose it).</summary>
    public Tensor PositionTable(int gridHeight, int gridWidth)
    {
        var weight = position_embedding.weight!;
        lock (_cacheLock)
        {
            if (_positionCache.TryGetValue((gridHeight, gridWidth), out var cached)
                && cached.dtype == weight.dtype && cached.device_type == weight.device_type && cached.device_index == weight.device_index)
                return cached;
            cached?.Dispose();
            using var noGrad = torch.no_grad();
            var table = PositionEmbeddingResize.Resize(weight, gridHeight, gridWidth).DetachFromDisposeScope();
            _positionCache[(gridHeight, gridWidth)] = table;
            return table;
        }
    }

    /// <summary>Patch embedding plus the resized table: [B, gh·gw, p·p·3] → [B, gh·gw, D].</summary>
    public Tensor EmbedPatches(Tensor patches, int gridHeight, int gridWidth)
    {
        if (patch_embedding is null) throw new InvalidOperationException("this tower has no patch embedding (decoder)");
        using var scope = NewDisposeScope();
        var embedded = patch_embedding.forward(patches.to(position_embedding.weight!.dtype)); // [B, gh·gw, D]
        return (embedded + PositionTable(gridHeight, gridWidth)).MoveToOuterDisposeScope();
    }

    public void ClearPositionCache()
    {
        lock (_cacheLock)
        {
            foreach (var t in _positionCache.Values) t.Dispose();
            _positionCache.Clear();
        }
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing) ClearPositionCache();
        base.Dispose(disposing);
    }
}
