using DetailFlow.Core.Checkpoints;
using DetailFlow.Core.Runtime;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace DetailFlow.Core.Tokenizer;

/// <summary>
/// The DetailFlow tokenizer (official <c>VQModel</c>, spec §2): SigLIP2 encoder with N latent queries →
/// <c>quant_conv</c> → l2-normalised VQ → codes; codes → normalised codebook rows → <c>post_quant_conv</c> → SigLIP2
/// decoder → pixels at a resolution chosen per prefix length. Field names are the checkpoint key segments, so
/// <c>state_dict()</c> equals the official keys (spec §3.1) minus <c>repa_model.*</c>/<c>global_token_proj.*</c>.
/// With <see cref="DecoderOnly"/> the encoder side (<c>encoder</c>, <c>quant_conv</c>) is not built and its keys are
/// skipped by an explicit rule (<see cref="IsSkippedKey"/>).
/// </summary>
public sealed class VqModel : nn.Module
{
    public readonly SiglipEncoder? encoder;
    public readonly SiglipDecoder decoder;
    public readonly Linear? quant_conv;
    public readonly Linear post_quant_conv;
    public readonly Linear? refine_conv;
    public readonly VectorQuantizer quantize;

    /// <summary>Key prefixes of the encoder side, skipped when loading a decoder-only model.</summary>
    public static readonly IReadOnlyList<string> EncoderSidePrefixes = ["encoder.", "quant_conv."];

    public VqModel(TokenizerConfig config, bool decoderOnly = false) : base(nameof(VqModel))
    {
        ArgumentNullException.ThrowIfNull(config);
        Config = config.Resolve();
        DecoderOnly = decoderOnly;
        if (!decoderOnly)
        {
            encoder = new SiglipEncoder(Config);
            quant_conv = nn.Linear(Config.Enc.HiddenSize, Config.CodebookEmbedDim);
        }
        decoder = new SiglipDecoder(Config);
        post_quant_conv = nn.Linear(Config.CodebookEmbedDim, Config.Dec.HiddenSize);
        if (Config.CorrectionTraining && !decoderOnly) refine_conv = nn.Linear(Config.CodebookEmbedDim, Config.Enc.HiddenSize);
        quantize = new VectorQuantizer(Config.CodebookSize, Config.CodebookEmbedDim, Config.CodebookL2Norm, Config.CodebookShowUsage);
        RegisterComponents();
        eval();
        DetachFromDisposeScopes();
    }

    public TokenizerConfig Config { get; }
    public bool DecoderOnly { get; }

    /// <summary>N: latent tokens per image.</summary>
    public int NumLatentTokens => Config.NumLatentTokens;

    public ScalarType DType => post_quant_conv.weight!.dtype;
    public Device Device => post_quant_conv.weight!.device;

    /// <summary>Keys a load skips: the training-only list (spec §12 item 19) and, decoder-only, the encoder side.</summary>
    public bool IsSkippedKey(string key) =>
        StateDictLoader.IsTrainingOnly(key) || (DecoderOnly && EncoderSidePrefixes.Any(key.StartsWith));

    /// <summary>
    /// Loads a tokenizer checkpoint (<c>.pt</c> flat or nested, <c>.safetensors</c>, fixture <c>weights.json</c>).
    /// The config is <paramref name="config"/>, else <c>config.json</c> (+ <c>config.yaml</c>) found as the official
    /// loader finds them (two folders up, else beside the file). Strict: every missing, unexpected or mis-shaped key is
    /// named in one <see cref="CheckpointMismatchException"/>.
    /// </summary>
    public static VqModel Load(string checkpointPath, TokenizerConfig? config = null,
        CheckpointEntry entry = CheckpointEntry.Model, ScalarType dtype = ScalarType.Float32, Device? device = null,
        bool decoderOnly = false)
    {
        config ??= ConfigBeside(checkpointPath);
        var model = new VqModel(config, decoderOnly);
        bool loaded = false;
        try
        {
            // Converted before the weights arrive: loading holds the model in its own precision and one chunk of the file.
            model.MoveTo(dtype);
            model.LoadWeights(checkpointPath, entry);
            if (device is not null) model.MoveTo(dtype, device);
            loaded = true;
            return model;
        }
        finally
        {
            if (!loaded) model.Dispose();
        }
    }

    /// <summary>The config files beside a checkpoint, as <see cref="Load"/> finds them.</summary>
    public static TokenizerConfig ConfigBeside(string checkpointPath)
    {
        string json = ConfigJson.FindConfigJson(checkpointPath)
            ?? throw new FileNotFoundException(
                $"no config for {checkpointPath}: expected <name>.json beside it or config.json two folders above or beside it; pass the tokenizer config explicitly", "config.json");
        return TokenizerConfig.Load(json, ConfigJson.OfficialYamlFor(json));
    }

    /// <summary>Strictly copies <paramref name="stateDict"/> into this model (see <see cref="IsSkippedKey"/>).</summary>
    public void LoadWeights(IReadOnlyDictionary<string, Tensor> stateDict, string source)
    {
        StateDictLoader.Load(this, stateDict, source, IsSkippedKey);
        ClearCaches();
    }

    /// <summary>The same from a checkpoint file, read a chunk at a time where the format allows (<see cref="StateDictLoader.LoadFile"/>).</summary>
    public void LoadWeights(string checkpointPath, CheckpointEntry entry)
    {
        StateDictLoader.LoadFile(this, checkpointPath, entry, IsSkippedKey);
        ClearCaches();
    }

    /// <summary>
    /// Converts the weights to <paramref name="dtype"/> and moves them to <paramref name="device"/> (if given). The
    /// quantizer stays float32, as under the official bf16 autocast (fp32 weights; normalisation and lookup are not
    /// autocast): code vectors are computed in float32 and cast to <paramref name="dtype"/> at <c>post_quant_conv</c>.
    /// </summary>
    public void MoveTo(ScalarType dtype, Device? device = null)
    {
        if (device is not null) this.to(device, dtype);
        else this.to(dtype);
        quantize.to(ScalarType.Float32);
        DetachFromDisposeScopes();
        ClearCaches();
    }

    /// <summary>
    /// The model owns its weights for its whole life: a model built or moved inside a caller's dispose scope must not
    /// lose its parameters when that scope ends.
    /// </summary>
    private void DetachFromDisposeScopes()
    {
        foreach (var p in parameters()) p.DetachFromDisposeScope();
        foreach (var b in buffers()) b.DetachFromDisposeScope();
    }

    /// <summary>Drops the cached resized position tables (after the weights were overwritten in place).</summary>
    public void ClearCaches()
    {
        encoder?.visual_model.embeddings.ClearPositionCache();
        decoder.visual_model.embeddings.ClearPositionCache();
    }

    /// <summary>
    /// Clean encode (official <c>encode</c>, spec §2.5): images [B, 3, H, W] in [−1, 1] → codes int64 [B, m] and
    /// code vectors [B, m, d] (m = <paramref name="curMaxTokenNum"/>, default N). The caller owns the results.
    /// </summary>
    public (Tensor Codes, Tensor Quant) Encode(Tensor images, int? curMaxTokenNum = null)
    {
        var enc = RequireEncoder();
        CheckImages(images);
        int m = curMaxTokenNum ?? NumLatentTokens;
        using var noGrad = torch.no_grad();
        using var scope = NewDisposeScope();
        var (_, latents) = enc.Forward(images.to(Device).to(DType), m); // [B, m, D_enc]
        var (quant, indices) = quantize.Quantize(quant_conv!.forward(latents)); // [B, m, d], [B·m]
        var codes = indices.view(images.shape[0], m);                          // [B, m]
        return (codes.MoveToOuterDisposeScope(), quant.MoveToOuterDisposeScope());
    }

    /// <summary>
    /// Official <c>decode_code</c> (spec §8): codes int64 [B, t'] → normalised codebook rows → decoder using the first
    /// <paramref name="t"/> → pixels [B, 3, imageSize, imageSize] in the model dtype, nominal range [−1, 1].
    /// </summary>
    public Tensor Decode(Tensor codes, int t, int imageSize)
    {
        if (codes.dim() != 2) throw new ArgumentException($"codes must be [B, t'], got [{string.Join(", ", codes.shape)}]", nameof(codes));
        using var noGrad = torch.no_grad();
        using var scope = NewDisposeScope();
        var vectors = quantize.GetCodebookEntry(codes.to(Device)); // [B, t', d]
        return DecodeVectors(vectors, t, imageSize).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// <see cref="Decode(Tensor, int, int)"/> with one prefix length per row of <paramref name="codes"/> [B, t'] (rows
    /// shorter than t' may carry any valid code after their prefix: those latents are masked out).
    /// </summary>
    public Tensor Decode(Tensor codes, IReadOnlyList<int> prefixLengths, int imageSize)
    {
        if (codes.dim() != 2) throw new ArgumentException($"codes must be [B, t'], got [{string.Join(", ", codes.shape)}]", nameof(codes));
        using var noGrad = torch.no_grad();
        using var scope = NewDisposeScope();
        var vectors = quantize.GetCodebookEntry(codes.to(Device));       // [B, t', d]
        var latents = GemmRows.Linear(post_quant_conv, vectors.to(DType)); // [B, t', D_dec]
        return decoder.Forward(latents, prefixLengths, imageSize).MoveToOuterDisposeScope();
    }

    /// <summary>Official <c>decode</c>: code vectors [B, t', d] → <c>post_quant_conv</c> → decoder (first t) → pixels.</summary>
    public Tensor DecodeVectors(Tensor quant, int t, int imageSize)
    {
        if (quant.dim() != 3 || quant.shape[2] != Config.CodebookEmbedDim)
            throw new ArgumentException($"code vectors must be [B, t', {Config.CodebookEmbedDim}], got [{string.Join(", ", quant.shape)}]", nameof(quant));
        using var noGrad = torch.no_grad();
        using var scope = NewDisposeScope();
        var latents = GemmRows.Linear(post_quant_conv, quant.to(Device).to(DType)); // [B, t', D_dec]
        return decoder.Forward(latents, t, imageSize).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Official <c>vq(image, cur_max_token_num, img_size)</c> (spec §2.5, §2.8): encode with m latents, decode all m at
    /// <paramref name="imageSize"/>.
    /// </summary>
    public Tensor Reconstruct(Tensor images, int? curMaxTokenNum, int imageSize)
    {
        int m = curMaxTokenNum ?? NumLatentTokens;
        using var noGrad = torch.no_grad();
        using var scope = NewDisposeScope();
        var (_, quant) = Encode(images, m);
        return DecodeVectors(quant, m, imageSize).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Official <c>encode_image</c> with gradients (training and noisy code extraction; spec §9.1 step 3). Without
    /// <paramref name="noiseIndex"/>: the clean pass, its codes and its codebook/commitment losses. With it (self-correction):
    /// a clean pass quantised with top-50 noise, the prefix [clean codes before noise_idx, noisy codes on
    /// noise_idx..noise_end) (detached) → <c>refine_conv</c> → the queries of a second encoder pass whose remaining queries
    /// are <c>refined_tokens[noise_end:]</c>; that pass is quantised with losses from noise_end on; the two passes'
    /// losses are mixed with weights m/T and (m − noise_end)/T, T = 2m − noise_end. Grad-agnostic: inference callers
    /// wrap it in <c>no_grad</c>. The caller owns every tensor of the result.
    /// </summary>
    /// <param name="images">[B, 3, H, W] in [−1, 1].</param>
    /// <param name="latentCount">m, the latents to encode (N for full-size images).</param>
    /// <param name="noiseIndex">The first noisy latent (official <c>noise_idx</c>), or null for the clean path.</param>
    /// <param name="generator">Draws the noisy codes (null: the global torch generator, as the official code).</param>
    public CorrectionEncoding EncodeWithCorrection(Tensor images, int latentCount, int? noiseIndex, Generator? generator = null) =>
        CorrectionEncoder.Encode(this, images, latentCount, noiseIndex, generator);

    /// <summary>Codes drawn for self-correction noise: uniformly among the 50 nearest (official <c>top_k=50</c>; all codes for a smaller codebook).</summary>
    public const int SelfCorrectionTopK = 50;

    /// <summary>
    /// Official <c>decode</c> with gradients (training): code vectors [B, m, d] → <c>post_quant_conv</c> → decoder
    /// with the first <paramref name="t"/> latents at <paramref name="imageSize"/>² → pixels [B, 3, s, s].
    /// </summary>
    public Tensor DecodeForTraining(Tensor quant, int t, int imageSize)
    {
        if (quant.dim() != 3 || quant.shape[2] != Config.CodebookEmbedDim)
            throw new ArgumentException($"code vectors must be [B, t', {Config.CodebookEmbedDim}], got [{string.Join(", ", quant.shape)}]", nameof(quant));
        using var scope = NewDisposeScope();
        var latents = post_quant_conv.forward(quant.to(Device).to(DType));
        return decoder.Forward(latents, t, imageSize).MoveToOuterDisposeScope();
    }

    internal SiglipEncoder RequireEncoder() =>
        encoder ?? throw new InvalidOperationException("this tokenizer was loaded decoder-only; encoding needs the encoder");

    internal static void CheckImages(Tensor images)
    {
        if (images.dim() != 4 || images.shape[1] != 3)
            throw new ArgumentException($"images must be [B, 3, H, W], got [{string.Join(", ", images.shape)}]", nameof(images));
    }
}
