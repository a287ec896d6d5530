using DetailFlow.Core.Decoding;
using DetailFlow.Core.Tokenizer;
using TorchSharp;
using static TorchSharp.torch;

namespace DetailFlow.Core.Imaging;

/// <summary>
/// Coarse-to-fine previews (spec §8, "next-detail" prefixes): each item's first t codes are decoded at the scheduled
/// decoder resolution d_t. Items are grouped by resolution and each group is decoded in batched forwards; items of one
/// call with different t are padded and their extra latents masked (<see cref="IDecoderBackend.Decode"/>).
/// A group's call holds at most <see cref="RowsPerCall"/> decoder tokens (images × (grid + t)), one image at least: the
/// activations a call leaves behind in the heap grow with its rows, and past about a thousand rows a larger call is no
/// faster per image (docs/memory.md). The schedule is passed as a function t → d_t (e.g.
/// <c>ResolutionSchedule.For(config).DecoderResolution</c>). The decoder backend (TorchSharp or ONNX Runtime) stays the
/// caller's.
/// </summary>
public sealed class PreviewDecoder
{
    /// <summary>Decoder tokens per call unless the caller chooses: two 256 px images of a 16-px-patch decoder with 128 latents.</summary>
    public const int DefaultRowsPerCall = 1024;

    private readonly IDecoderBackend _backend;
    private readonly Func<int, int> _resolutionOf;

    public PreviewDecoder(IDecoderBackend backend, Func<int, int> resolutionOf, int rowsPerCall = DefaultRowsPerCall)
    {
        _backend = backend ?? throw new ArgumentNullException(nameof(backend));
        _resolutionOf = resolutionOf ?? throw new ArgumentNullException(nameof(resolutionOf));
        if (rowsPerCall < 1) throw new ArgumentOutOfRangeException(nameof(rowsPerCall), rowsPerCall, "a decoder call needs at least one row");
        RowsPerCall = rowsPerCall;
    }

    /// <summary>Previews decoded by the TorchSharp modules of <paramref name="model"/>.</summary>
    public PreviewDecoder(VqModel model, Func<int, int> resolutionOf, int rowsPerCall = DefaultRowsPerCall)
        : this(new TorchDecoderBackend(model ?? throw new ArgumentNullException(nameof(model))), resolutionOf, rowsPerCall)
    {
    }

    public IDecoderBackend Backend => _backend;

    /// <summary>Most decoder tokens (images × (grid cells + latents)) in one decoder call; a call decodes one image at least.</summary>
    public int RowsPerCall { get; }

    /// <summary>Decoder tokens of one image of prefix length t: the d_t / patch grid and the t latents.</summary>
    public int TokensOf(int t)
    {
        int grid = ResolutionOf(t) / _backend.PatchSize;
        return grid * grid + t;
    }

    /// <summary>Images of prefix length t one call decodes at most.</summary>
    public int ImagesPerCall(int t) => Math.Max(1, RowsPerCall / TokensOf(t));

    /// <summary>Resolution d_t of prefix length t under the schedule, checked against the decoder.</summary>
    public int ResolutionOf(int t)
    {
        if (t < 1 || t > _backend.NumLatentTokens)
            throw new ArgumentOutOfRangeException(nameof(t), t, $"prefix length must be in [1, {_backend.NumLatentTokens}]");
        int d = _resolutionOf(t);
        int patch = _backend.PatchSize;
        if (d <= 0 || d % patch != 0)
            throw new InvalidOperationException($"the schedule maps prefix {t} to {d} px, not a positive multiple of the decoder patch {patch}");
        return d;
    }

    /// <summary>
    /// Float pixels per item, in item order: float32 CPU tensors [3, d_t, d_t], nominal range [−1, 1]. The caller owns
    /// (and disposes) them. Decoder forwards per distinct resolution, each of at most <see cref="RowsPerCall"/> tokens;
    /// <paramref name="beforeCall"/> runs before each (a caller that shares the cores picks its threads there).
    /// </summary>
    public IReadOnlyList<PreviewPixels> DecodePixels(IReadOnlyList<PreviewItem> items, Action? beforeCall = null)
    {
        ArgumentNullException.ThrowIfNull(items);
        var resolutions = new int[items.Count];
        for (int i = 0; i < items.Count; i++)
        {
            var item = items[i];
            if (item.Codes.Length < item.PrefixLength)
                throw new ArgumentException($"item {i} has {item.Codes.Length} codes, fewer than its prefix length {item.PrefixLength}", nameof(items));
            resolutions[i] = ResolutionOf(item.PrefixLength);
        }

        var results = new PreviewPixels[items.Count];
        bool complete = false;
        try
        {
            DecodeGroups(items, resolutions, results, beforeCall);
            complete = true;
            return results;
        }
        finally
        {
            if (!complete) foreach (var r in results) r?.Dispose();
        }
    }

    private void DecodeGroups(IReadOnlyList<PreviewItem> items, int[] resolutions, PreviewPixels[] results, Action? beforeCall)
    {
        foreach (var group in Enumerable.Range(0, items.Count).GroupBy(i => resolutions[i]))
            foreach (var call in Calls(group.OrderBy(i => items[i].PrefixLength).ToArray(), items))
            {
                beforeCall?.Invoke();
                DecodeCall(items, call, group.Key, results);
            }
    }

    /// <summary>Splits one resolution's items (shortest prefix first) into calls of at most <see cref="RowsPerCall"/> tokens.</summary>
    private IEnumerable<int[]> Calls(int[] members, IReadOnlyList<PreviewItem> items)
    {
        int start = 0;
        for (int end = 1; end <= members.Length; end++)
        {
            // Prefixes ascend, so the last item is the call's longest: every image is padded to its token count.
            bool full = end == members.Length || (end + 1 - start) * TokensOf(items[members[end]].PrefixLength) > RowsPerCall;
            if (!full) continue;
            yield return members[start..end];
            start = end;
        }
    }

    private void DecodeCall(IReadOnlyList<PreviewItem> items, int[] members, int resolution, PreviewPixels[] results)
    {
        int[] prefixes = members.Select(i => items[i].PrefixLength).ToArray();
        int longest = prefixes.Max();
        var codes = new long[members.Length * longest]; // padding code 0 is masked out by the decoder
        for (int k = 0; k < members.Length; k++)
            items[members[k]].Codes.Span[..prefixes[k]].CopyTo(codes.AsSpan(k * longest, prefixes[k]));

        using var noGrad = torch.no_grad();
        using var scope = NewDisposeScope();
        using var codeTensor = torch.tensor(codes, [members.Length, longest]);
        var pixels = _backend.Decode(codeTensor, prefixes, resolution); // float32 CPU [b, 3, d, d]
        for (int k = 0; k < members.Length; k++)
            results[members[k]] = new PreviewPixels(prefixes[k], resolution, pixels[k].clone().DetachFromDisposeScope());
    }
}

/// <summary>A decoded preview: prefix length t, its resolution d_t and float32 CPU pixels [3, d_t, d_t] (caller disposes).</summary>
public sealed record PreviewPixels(int PrefixLength, int Resolution, Tensor Pixels) : IDisposable
{
    public void Dispose() => Pixels.Dispose();
}
