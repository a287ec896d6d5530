using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace DetailFlow.Core.Tokenizer;

/// <summary>
/// Nearest-code lookup (official <c>VectorQuantizer</c>, spec §2.7). With l2 normalisation (every release) the
/// input and the codebook rows are l2-normalised, d = ‖z‖² + ‖e‖² − 2·z·e, index = first arg-min, and the output is
/// the straight-through value z + (e − z) (equal to the unit-norm code row up to an ulp). <c>codebook_used</c> is a
/// training-statistics buffer that exists only when the config asks for it.
/// </summary>
public sealed class VectorQuantizer : nn.Module
{
    /// <summary>F.normalize's eps: x / max(‖x‖, 1e-12).</summary>
    private const double NormalizeEps = 1e-12;

    /// <summary>Length of the official usage buffer.</summary>
    public const int CodebookUsedLength = 65536;

    public readonly Embedding embedding;
    public readonly Tensor? codebook_used;

    public VectorQuantizer(int codebookSize, int embedDim, bool l2Norm, bool showUsage) : base(nameof(VectorQuantizer))
    {
        if (codebookSize <= 0) throw new ArgumentOutOfRangeException(nameof(codebookSize), codebookSize, "codebook size must be positive");
        if (embedDim <= 0) throw new ArgumentOutOfRangeException(nameof(embedDim), embedDim, "code dimension must be positive");
        CodebookSize = codebookSize;
        EmbedDim = embedDim;
        L2Norm = l2Norm;
        embedding = nn.Embedding(codebookSize, embedDim);
        if (showUsage) codebook_used = torch.zeros(CodebookUsedLength).DetachFromDisposeScope();
        RegisterComponents();
    }

    public int CodebookSize { get; }
    public int EmbedDim { get; }
    public bool L2Norm { get; }

    /// <summary>The codebook as used for lookup and decoding: l2-normalised rows when <see cref="L2Norm"/>. [V, d].</summary>
    public Tensor Codebook()
    {
        var weight = embedding.weight!;
        return L2Norm ? F.normalize(weight, p: 2, dim: -1, eps: NormalizeEps) : weight.alias();
    }

    /// <summary>
    /// [..., d] → (z_q [..., d], indices [numel/d] flat, batch-major). Arg-min takes the first index on ties.
    /// </summary>
    public (Tensor Quantized, Tensor Indices) Quantize(Tensor z)
    {
        if (z.dim() < 1 || z.shape[^1] != EmbedDim)
            throw new ArgumentException($"quantizer input must end in the code dimension {EmbedDim}, got [{string.Join(", ", z.shape)}]", nameof(z));
        using var scope = NewDisposeScope();
        var codebook = Codebook();                                         // [V, d]
        var zc = z.to(codebook.dtype);                                     // the lookup runs in the codebook's dtype
        var zn = L2Norm ? F.normalize(zc, p: 2, dim: -1, eps: NormalizeEps) : zc;
        var flat = zn.reshape(-1, EmbedDim);                               // [K, d]
        var d = flat.pow(2).sum(1, keepdim: true)
                + codebook.pow(2).sum(1)
                - 2 * flat.matmul(codebook.t());                            // [K, V]
        var indices = d.argmin(1);                                         // [K]
        var nearest = codebook.index_select(0, indices).view(zn.shape);    // [..., d]
        var quantized = zn + (nearest - zn);                               // straight-through value, as returned officially
        return (quantized.MoveToOuterDisposeScope(), indices.MoveToOuterDisposeScope());
    }

    /// <summary>
    /// Official <c>get_codebook_entry</c>: rows of <see cref="Codebook"/> for <paramref name="indices"/>. With a 4-d
    /// <paramref name="shape"/> (b, c, h, w) and <paramref name="channelFirst"/> the rows are laid out (b, h, w, c)
    /// and permuted to channel-first; another shape is a plain view.
    /// </summary>
    public Tensor GetCodebookEntry(Tensor indices, long[]? shape = null, bool channelFirst = true)
    {
        if (indices.dtype != ScalarType.Int64) throw new ArgumentException($"code indices must be int64, got {indices.dtype}", nameof(indices));
        using var scope = NewDisposeScope();
        if (indices.numel() > 0)
        {
            long min = indices.min().item<long>(), max = indices.max().item<long>();
            if (min < 0 || max >= CodebookSize)
                throw new ArgumentOutOfRangeException(nameof(indices), $"code indices must be in [0, {CodebookSize}), got [{min}, {max}]");
        }
        var rows = Codebook()[indices];                                    // [..., d]
        if (shape is not null)
        {
            rows = channelFirst && shape.Length == 4
                ? rows.reshape(shape[0], shape[2], shape[3], shape[1]).permute(0, 3, 1, 2).contiguous()
                : rows.view(shape);
        }
        return rows.MoveToOuterDisposeScope();
    }
}
