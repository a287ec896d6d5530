using DetailFlow.Core.Decoding;
using DetailFlow.Core.Generation;
using DetailFlow.Core.Gpt;
using DetailFlow.Core.Imaging;
using DetailFlow.Core.Runtime;
using DetailFlow.Core.Tokenizer;

namespace DetailFlow.Api.Hosting;

/// <summary>
/// The served model pair. The GPT belongs to the inference thread, the decoder to the decode thread; endpoints read only the configs, the
/// schedule, the labels and the fingerprint. Every decode (previews and final images) goes through <see cref="Decoder"/>,
/// which the model owns (the TorchSharp modules of <see cref="Tokenizer"/> when none is given).
/// </summary>
public sealed class LoadedModel(GptTransformer gpt, VqModel tokenizer, IReadOnlyList<string> labels, string name, string fingerprint,
    IDecoderBackend? decoder = null) : IDisposable
{
    private int _leases;

    public GptTransformer Gpt { get; } = gpt;
    public VqModel Tokenizer { get; } = tokenizer;
    public GptConfig GptConfig => Gpt.Config;
    public ResolutionSchedule Schedule { get; } = ResolutionSchedule.For(tokenizer.Config);

    /// <summary>The decoder backend (ModelOptions:DecoderBackend; the decode thread's, and the inference thread's for first previews).</summary>
    public IDecoderBackend Decoder { get; } = decoder ?? new TorchDecoderBackend(tokenizer);

    /// <summary>Code prefixes → RGB at their scheduled resolutions (stateless: two threads may build one each, alike).</summary>
    public PreviewRenderer Previews => _previews ??= new PreviewRenderer(PreviewDecoder);
    private PreviewRenderer? _previews;

    /// <summary>The decoder calls' split (stateless, as <see cref="Previews"/>; the loader reads its row counts to warm the kernels).</summary>
    public PreviewDecoder PreviewDecoder => _previewDecoder ??= new PreviewDecoder(Decoder, Schedule.DecoderResolution, DecodeRowsPerCall);
    private PreviewDecoder? _previewDecoder;

    /// <summary>Most decoder tokens in one decoder call (ModelOptions:DecodeRowsPerCall).</summary>
    public int DecodeRowsPerCall { get; init; } = PreviewDecoder.DefaultRowsPerCall;

    /// <summary>Class labels by id; empty when none were configured (classes are then addressed by id only).</summary>
    public IReadOnlyList<string> Labels { get; } = labels;

    public string Name { get; } = name;

    /// <summary>Identifies the weights (file names, sizes, times and configs): part of every cache key.</summary>
    public string Fingerprint { get; } = fingerprint;

    public int MaxTokens => GptConfig.BlockSize;

    /// <summary>The GPT's weight precision in force (fp32, bf16, fp16), read once at load: endpoints must not touch the weights.</summary>
    public string GptDType { get; } = ModelPrecisions.ShortName(gpt.DType);

    /// <summary>The decoder's weight precision in force (ModelOptions:DType <c>Auto</c> chooses it apart from the GPT's).</summary>
    public string DecoderDType { get; } = ModelPrecisions.ShortName(tokenizer.DType);

    /// <summary>How the GPT's linear weights are stored: <c>plain</c> or <c>packed</c> (ModelOptions:Weights; <see cref="PackedLinear"/>).</summary>
    public string GptWeights { get; } = PackedLinear.LayoutOf(gpt);

    /// <summary>How the decoder's linear weights are stored.</summary>
    public string DecoderWeights { get; } = PackedLinear.LayoutOf(tokenizer);

    /// <summary>Where the GPT's packed products run: <c>onednn</c>, or <c>C# up to R rows</c> (ModelOptions:HostProductRows; <see cref="BlockedProduct"/>).</summary>
    public string Products { get; } = HostRowsChoice.SummaryOf(gpt.modules().OfType<TorchSharp.Modules.Linear>().Select(l => PackedLinear.HostView(l)?.HostRows ?? 0).DefaultIfEmpty(0).Max());

    /// <summary>How the GPT's cached steps attend: <c>sdpa</c> or <c>one-pass up to R rows</c> (ModelOptions:Attention; <see cref="CachedAttention"/>).</summary>
    public string Attention { get; } = AttentionChoice.SummaryOf(gpt.OnePassAttentionRows);

    /// <summary>
    /// How the decoder attends: <c>sdpa</c>, <c>headwise</c> or <c>headwise from L tokens</c> (ModelOptions:DecoderAttention,
    /// chosen after construction); <c>onnx</c> where the ONNX decoder runs its own graph.
    /// </summary>
    public string DecoderAttention => Decoder is TorchDecoderBackend ? HeadwiseChoice.SummaryOf(Tokenizer.decoder.HeadwiseFromTokens) : "onnx";

    /// <summary>What a request that names no sampling field gets (ModelOptions:CfgScale over the official defaults).</summary>
    public SamplingOptions Defaults { get; init; } = new();

    /// <summary>Where the weights came from (activation, listing and announcement to other replicas).</summary>
    public ModelSource? Source { get; init; }

    /// <summary>Requests holding this model (see <see cref="ModelState.Rent()"/>).</summary>
    public int Leases => Volatile.Read(ref _leases);

    internal void Acquire() => Interlocked.Increment(ref _leases);

    public void Return() => Interlocked.Decrement(ref _leases);

    public bool IsDisposed { get; private set; }

    public void Dispose()
    {
        if (IsDisposed) return;
        IsDisposed = true;
        Decoder.Dispose();
        Gpt.Dispose();
        Tokenizer.Dispose();
    }
}
