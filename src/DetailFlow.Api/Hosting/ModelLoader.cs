using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using DetailFlow.Core.Checkpoints;
using DetailFlow.Core.Decoding;
using DetailFlow.Core.Generation;
using DetailFlow.Core.Gpt;
using DetailFlow.Core.Imaging;
using DetailFlow.Core.Runtime;
using DetailFlow.Core.Tokenizer;
using DetailFlow.Api.Batching;
using Microsoft.Extensions.Options;
using TorchSharp;
using static TorchSharp.torch;

namespace DetailFlow.Api.Hosting;

/// <summary>
/// Loads the GPT and the decoder half of the tokenizer (converted safetensors or official checkpoints), checks that
/// they belong together, chooses each one's precision (ModelOptions:DType; <c>Auto</c>: <see cref="PrecisionProbe"/>),
/// builds the decoder backend (ModelOptions:DecoderBackend) and runs one warm-up forward + decode.
/// Called on the inference thread.
/// </summary>
public sealed class ModelLoader(IOptions<ModelOptions> options, ILogger<ModelLoader> logger, IActiveModelStore? activeStore = null,
    DecoderBackendFactory? decoders = null, DetailFlowTelemetry? telemetry = null, IOptions<BatcherOptions>? batcher = null)
{
    /// <summary>The probe's time for both models together (the bound: 2 s at load); the GPT gets 70 %.</summary>
    private static readonly TimeSpan s_probeBudget = TimeSpan.FromSeconds(1.8);

    /// <summary>Rows per engine step: BatcherOptions:MaxRows, else the serving plan's for this machine.</summary>
    private int StepRows => batcher?.Value.MaxRows ?? ServingPlan.RowsFor(options.Value);

    /// <summary>The configured model (<see cref="ModelOptions"/>).</summary>
    public ModelSource Configured
    {
        get
        {
            var o = options.Value;
            return new ModelSource(o.GptPath, o.TokenizerPath, ReadLabels(o), Name: Path.GetFileNameWithoutExtension(o.GptPath));
        }
    }

    /// <summary>
    /// The model to serve at start: the one last activated across replicas (when a shared store has one and it
    /// loads), else the configured one.
    /// </summary>
    public LoadedModel LoadInitial()
    {
        if (activeStore?.Current() is { } active)
        {
            try { return Load(active); }
            catch (Exception e) when (e is not OutOfMemoryException)
            { logger.LogWarning("The shared active model ({Gpt}) did not load, serving the configured one: {Message}", active.GptPath, e.Message); }
        }
        return Load();
    }

    public LoadedModel Load() => Load(Configured, "ModelOptions:GptPath", "ModelOptions:TokenizerPath",
        string.IsNullOrWhiteSpace(options.Value.LabelsFile) ? "ModelOptions:Labels" : "ModelOptions:LabelsFile");

    /// <summary>Loads, checks and warms up <paramref name="source"/>; error messages name <paramref name="gptField"/> / <paramref name="tokenizerField"/>.</summary>
    public LoadedModel Load(ModelSource source, string gptField = "gpt_path", string tokenizerField = "tokenizer_path",
        string labelsField = "labels")
    {
        var o = options.Value;
        TorchThreads.Configure(o.Threads);   // the inference thread's intra-op budget
        var device = torch.device(o.Device);
        var gptConfig = Loading(gptField, source.GptPath, "the GPT", () => GptTransformer.ConfigBeside(CheckpointReader.RequireFile(source.GptPath)));
        var tokenizerConfig = Loading(tokenizerField, source.TokenizerPath, "the tokenizer",
            () => VqModel.ConfigBeside(CheckpointReader.RequireFile(source.TokenizerPath)));
        // Chosen from the configs before any weight is read: each model is built in its precision and never held twice.
        var (gptChoice, decoderChoice) = ChoosePrecisions(o, gptConfig, tokenizerConfig, device);
        var gpt = Loading(gptField, source.GptPath, "the GPT", () => GptTransformer.Load(source.GptPath, gptConfig, source.GptEntry, gptChoice.Chosen, device));
        VqModel vq;
        try
        {
            vq = Loading(tokenizerField, source.TokenizerPath, "the tokenizer",
                () => VqModel.Load(source.TokenizerPath, tokenizerConfig, dtype: decoderChoice.Chosen, device: device, decoderOnly: true));
        }
        catch
        {
            gpt.Dispose();
            throw;
        }
        IDecoderBackend decoder;
        (PackingChoice Gpt, PackingChoice Decoder) packing = default;
        AttentionChoice? attention = null;
        HostRowsChoice? products = null;
        try
        {
            packing = PackWeights(o, gpt, vq, device);
            products = BlockedProductProbe.Choose(gpt, o.HostProductRows, StepRows, s_probeBudget * 0.2);
            attention = AttentionProbe.Choose(o.Attention, gpt.Config, gpt.DType, device, StepRows, s_probeBudget * 0.2);
            gpt.OnePassAttentionRows = attention.OnePassRows;
            decoder = (decoders ?? CreateDecoder)(o, vq);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            gpt.Dispose();
            vq.Dispose();
            throw new InvalidOperationException(
                packing.Gpt is null ? $"ModelOptions:Weights = {o.Weights}: cannot pack the weights: {e.Message}"
                : products is null ? $"ModelOptions:HostProductRows = {o.HostProductRows}: cannot choose where products run: {e.Message}"
                : attention is null ? $"ModelOptions:Attention = {o.Attention}: cannot choose how the GPT attends: {e.Message}"
                : $"ModelOptions:DecoderBackend = {o.DecoderBackend}: cannot build the decoder: {e.Message}", e);
        }
        var labels = source.Labels.Count == 0 || source.Labels.Count == gpt.Config.NumClasses ? source.Labels : [];
        var model = new LoadedModel(gpt, vq, labels, source.Name ?? Path.GetFileNameWithoutExtension(source.GptPath), Fingerprint(source, gpt.DType, vq.DType), decoder)
        {
            Source = source, Defaults = new SamplingOptions { CfgScale = o.CfgScale ?? new SamplingOptions().CfgScale },
            DecodeRowsPerCall = o.EffectiveDecodeRowsPerCall,
        };
        HeadwiseChoice decoderAttention;
        try
        {
            Check(model, gptField, tokenizerField, labelsField, source);
            decoderAttention = ChooseDecoderAttention(o, model);
            Warmup(model);
        }
        catch { model.Dispose(); throw; }
        ReleaseLoadMemory(model.Name);
        logger.LogInformation("Model {Name} loaded ({Gpt}; {Classes} classes, {Labels} labels, N = {N}) on {Device}, decoder {Decoder}, fingerprint {Fingerprint}",
            model.Name, gpt.Config, gpt.Config.NumClasses, labels.Count, model.MaxTokens, o.Device, model.Decoder.Name, model.Fingerprint);
        logger.LogInformation("Model {Name} precision (ModelOptions:DType = {DType}): GPT {GptChoice}; decoder {DecoderChoice}",
            model.Name, o.DType, gptChoice.Describe(), decoderChoice.Describe());
        logger.LogInformation("Model {Name} weights (ModelOptions:Weights = {Weights}): GPT {GptPacking}; decoder {DecoderPacking}",
            model.Name, o.Weights, packing.Gpt.Describe(), packing.Decoder.Describe());
        logger.LogInformation("Model {Name} products (ModelOptions:HostProductRows = {HostProductRows}): {ProductsChoice}",
            model.Name, o.HostProductRows?.ToString(CultureInfo.InvariantCulture) ?? "unset", products!.Describe());
        logger.LogInformation("Model {Name} attention (ModelOptions:Attention = {Attention}): {AttentionChoice}",
            model.Name, o.Attention, attention!.Describe());
        logger.LogInformation("Model {Name} decoder attention (ModelOptions:DecoderAttention = {DecoderAttention}): {DecoderAttentionChoice}",
            model.Name, o.DecoderAttention, decoderAttention.Describe());
        telemetry?.SetPrecision(model.GptDType, model.DecoderDType);
        return model;
    }

    /// <summary>
    /// The GPT's and the decoder's precision: the configured one, or (Auto) each probed at its own shapes — the GPT at a
    /// guided request's step (2 rows × G codes) and at a full batch (BatcherOptions:MaxRows × G), the decoder at one
    /// and at four full-resolution images. The ONNX decoder runs float32 whatever the weights are.
    /// </summary>
    private (PrecisionChoice Gpt, PrecisionChoice Decoder) ChoosePrecisions(ModelOptions o, GptConfig g, TokenizerConfig tokenizer, Device device)
    {
        if (o.DType.ToScalarType() is { } fixedType)
            return (new PrecisionChoice(fixedType, [], "configured", 0), new PrecisionChoice(fixedType, [], "configured", 0));
        var gptChoice = PrecisionProbe.Choose(GptWorkload(g), device, s_probeBudget * 0.7);
        var decoderChoice = o.DecoderBackend == DecoderBackendKind.Onnx
            ? new PrecisionChoice(ScalarType.Float32, [], "the ONNX decoder runs float32", 0)
            : PrecisionProbe.Choose(ProbeWorkload.Decoder(tokenizer), device, s_probeBudget * 0.3);
        return (gptChoice, decoderChoice);
    }

    /// <summary>The GPT's products at a guided request's step and at a full batch (BatcherOptions:MaxRows).</summary>
    private ProbeWorkload GptWorkload(GptConfig g) => ProbeWorkload.Gpt(g, StepRows);

    /// <summary>
    /// Packs the GPT's and the Torch decoder's linear weights where ModelOptions:Weights says so, or (Auto) where the
    /// probe finds packed products faster at their shapes and chosen precision. The ONNX decoder exports the plain weights.
    /// </summary>
    private (PackingChoice Gpt, PackingChoice Decoder) PackWeights(ModelOptions o, GptTransformer gpt, VqModel vq, Device device)
    {
        var gptChoice = PackingProbe.Choose(o.Weights, GptWorkload(gpt.Config), gpt.DType, device, s_probeBudget * 0.3);
        var decoderChoice = o.DecoderBackend == DecoderBackendKind.Onnx
            ? new PackingChoice(false, "the ONNX decoder runs its own graph")
            : PackingProbe.Choose(o.Weights, ProbeWorkload.Decoder(vq.Config), vq.DType, device, s_probeBudget * 0.2);
        if (gptChoice.Pack) PackedLinear.Pack(gpt, 2L * gpt.Config.GroupSize);
        if (decoderChoice.Pack) PackedLinear.Pack(vq, vq.Config.NumLatentTokens);
        return (gptChoice, decoderChoice);
    }

    /// <summary><paramref name="load"/>(), its failure reported as "<paramref name="field"/> = 'path': cannot load <paramref name="what"/>".</summary>
    private static T Loading<T>(string field, string path, string what, Func<T> load)
    {
        try { return load(); }
        catch (Exception e) when (e is not OutOfMemoryException)
        { throw new InvalidOperationException($"{field} = '{path}': cannot load {what}: {e.Message}", e); }
    }

    /// <summary>The configured decoder backend over the loaded tokenizer (the default <see cref="DecoderBackendFactory"/>).</summary>
    public static IDecoderBackend CreateDecoder(ModelOptions o, VqModel vq)
    {
        if (o.DecoderBackend == DecoderBackendKind.Torch) return new TorchDecoderBackend(vq);
        var device = torch.device(o.Device);
        var settings = new OnnxDecoderSettings
        {
            IntraOpThreads = o.OnnxThreads > 0 ? o.OnnxThreads : o.EffectiveDecodeThreads > 0 ? o.EffectiveDecodeThreads : Environment.ProcessorCount,
            Cuda = device.type == DeviceType.CUDA,
            CudaDeviceId = Math.Max(0, (int)device.index),
        };
        return string.IsNullOrWhiteSpace(o.OnnxModelPath)
            ? OnnxDecoderBackend.Create(vq, settings)
            : OnnxDecoderBackend.Load(vq, o.OnnxModelPath, settings);
    }

    private static void Check(LoadedModel m, string gptField, string tokenizerField, string labelsField, ModelSource o)
    {
        var g = m.GptConfig;
        var t = m.Tokenizer.Config;
        if (g.BlockSize != t.NumLatentTokens || g.GroupSize != t.GroupSize || g.EffectiveCausalNum != t.EffectiveCausalNum || g.VocabSize != t.CodebookSize)
            throw new InvalidOperationException(
                $"{gptField} '{o.GptPath}' and {tokenizerField} '{o.TokenizerPath}' do not match: GPT N {g.BlockSize}, G {g.GroupSize}, " +
                $"C {g.EffectiveCausalNum}, vocab {g.VocabSize} vs tokenizer N {t.NumLatentTokens}, G {t.GroupSize}, C {t.EffectiveCausalNum}, codebook {t.CodebookSize}");
        if (o.Labels.Count > 0 && o.Labels.Count != g.NumClasses && o.JobId is null)
            throw new InvalidOperationException($"{labelsField}: {o.Labels.Count} labels, but the model has {g.NumClasses} classes");
    }

    /// <summary>
    /// Hands back to the kernel the native heap the load freed but left resident (the checkpoint's read buffers, the
    /// probes' weights, the plain copies of packed weights): until the inference thread's first trim it was counted in
    /// the resident size, at ready and on top of the first request's KV cache (docs/memory.md, "Trimmed at ready").
    /// </summary>
    private void ReleaseLoadMemory(string name)
    {
        long before = NativeHeap.ResidentBytes();
        if (!NativeHeap.Trim()) return;
        logger.LogInformation("Model {Name}: resident {Before} MB after the load, {After} MB with its freed heap handed back",
            name, before >> 20, NativeHeap.ResidentBytes() >> 20);
    }

    /// <summary>
    /// One forward and one decode, so the first request does not pay for libtorch's lazy initialisation; then, in a
    /// reduced precision on a CPU, the product kernels of every row count the steps and the decoder calls round to
    /// (<see cref="GemmRows"/>), each under every thread count its thread may run it with (<see cref="CoreShare"/>).
    /// </summary>
    private void Warmup(LoadedModel m)
    {
        using (torch.no_grad())
        using (torch.NewDisposeScope())
        {
            var codes = torch.zeros(1, m.GptConfig.EffectiveCausalNum, torch.int64, device: m.Gpt.Device);
            var classes = torch.zeros(1, torch.int64, device: m.Gpt.Device);
            _ = m.Gpt.Forward(codes, classes);
            int t = m.Schedule.ValidPrefixes[0];
            _ = m.Previews.Render([new PreviewItem(new long[t], t)]);
        }
        var o = options.Value;
        int rows = StepRows;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var cores = CoreShare.For(o);
        int products = 0;
        try
        {
            foreach (int threads in cores.StepCounts)
            {
                TorchThreads.Configure(threads);
                products += GemmRows.Warm(m.Gpt, GemmRows.BucketsUpTo((long)rows * m.GptConfig.GroupSize));
            }
            if (m.Decoder is TorchDecoderBackend)
                foreach (int threads in cores.DecodeCounts)
                {
                    TorchThreads.Configure(threads);
                    products += GemmRows.Warm(m.Tokenizer, DecoderRows(m.Schedule, m.PreviewDecoder, rows));
                    products += 2 * HeadwiseProbe.Warm(m.Tokenizer.decoder, DecoderLengths(m));   // q·kᵀ and p·v per length
                }
        }
        finally { TorchThreads.Configure(o.Threads); }
        if (products > 0)
            logger.LogInformation("Model {Name}: {Products} product kernels compiled in {Seconds:F2} s (row counts rounded up to a few sizes)",
                m.Name, products, clock.Elapsed.TotalSeconds);
    }

    /// <summary>
    /// How the Torch decoder attends (ModelOptions:DecoderAttention; <c>Auto</c>: <see cref="HeadwiseProbe"/> at every
    /// scheduled prefix's sequence length, on the decode thread's largest thread count). The ONNX decoder runs its own graph.
    /// </summary>
    private HeadwiseChoice ChooseDecoderAttention(ModelOptions o, LoadedModel m)
    {
        if (m.Decoder is not TorchDecoderBackend) return new HeadwiseChoice(int.MaxValue, "the ONNX decoder runs its own graph", []);
        var decoder = m.Tokenizer.decoder;
        TorchThreads.Configure(CoreShare.For(o).DecodeCounts.Max());
        try
        {
            var choice = HeadwiseProbe.Choose(o.DecoderAttention, decoder, DecoderLengths(m), torch.device(o.Device), s_probeBudget * 0.2);
            decoder.HeadwiseFromTokens = choice.FromTokens;
            return choice;
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            throw new InvalidOperationException($"ModelOptions:DecoderAttention = {o.DecoderAttention}: cannot choose how the decoder attends: {e.Message}", e);
        }
        finally { TorchThreads.Configure(o.Threads); }
    }

    /// <summary>The sequence lengths (g² + t) of the decoder's scheduled prefixes.</summary>
    private static IEnumerable<int> DecoderLengths(LoadedModel m) => m.Schedule.ValidPrefixes.Select(m.PreviewDecoder.TokensOf);

    /// <summary>
    /// The row counts of the decoder's products when it decodes up to <paramref name="images"/> scheduled prefixes of one
    /// resolution at once, in calls split as <paramref name="decoder"/> splits them: the g² + t tokens of its layers, the
    /// g² grid tokens of <c>to_pixel</c>, the t latents of <c>post_quant_conv</c>.
    /// </summary>
    private static IEnumerable<long> DecoderRows(ResolutionSchedule schedule, PreviewDecoder decoder, int images)
    {
        foreach (int t in schedule.ValidPrefixes)
        {
            long tokens = decoder.TokensOf(t);
            for (long b = 1; b <= Math.Min(images, decoder.ImagesPerCall(t)); b++)
            {
                yield return b * tokens;
                yield return b * (tokens - t);
                yield return b * t;
            }
        }
    }

    private static IReadOnlyList<string> ReadLabels(ModelOptions o) =>
        !string.IsNullOrWhiteSpace(o.LabelsFile)
            ? File.ReadAllLines(o.LabelsFile).Select(l => l.Trim()).Where(l => l.Length > 0).ToArray()
            : o.Labels;

    /// <summary>Files, configs and the precisions in force: no cache entry is shared across precisions.</summary>
    private static string Fingerprint(ModelSource source, ScalarType gptType, ScalarType decoderType)
    {
        var text = new StringBuilder();
        foreach (var path in new[] { source.GptPath, source.TokenizerPath })
        {
            var info = new FileInfo(path);
            text.Append(info.Name).Append('|').Append(info.Length).Append('|').Append(info.LastWriteTimeUtc.Ticks).Append('|');
            var json = Path.ChangeExtension(path, ".json");
            if (File.Exists(json)) text.Append(File.ReadAllText(json));
        }
        text.Append(gptType);
        if (decoderType != gptType) text.Append("|decoder ").Append(decoderType);
        if (source.GptEntry != CheckpointEntry.Ema) text.Append('|').Append(source.GptEntry);
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text.ToString())))[..16];
    }
}

/// <summary>
/// Builds a loaded model's decoder backend; registered in DI it replaces <see cref="ModelLoader.CreateDecoder"/> (which
/// follows ModelOptions:DecoderBackend), e.g. to wrap it.
/// </summary>
public delegate IDecoderBackend DecoderBackendFactory(ModelOptions options, VqModel tokenizer);
