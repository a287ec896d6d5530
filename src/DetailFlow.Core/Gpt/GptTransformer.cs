using DetailFlow.Core.Checkpoints;
using DetailFlow.Core.Runtime;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace DetailFlow.Core.Gpt;

/// <summary>
/// The class-conditional DetailFlow GPT (official <c>Transformer</c> of <c>autoregressive/models/gpt.py</c>, spec §6).
/// Field names are the checkpoint keys (spec §3.2); the rotary table and the masks are not module state.
/// <see cref="Forward"/> is the full-sequence pass (official <c>basic_group_inference=True</c>);
/// <see cref="Embed"/>, <see cref="RunLayers"/> and <see cref="Head"/> are the pieces a KV-cached engine drives.
/// Callers run it under <c>torch.no_grad()</c> and a dispose scope.
/// </summary>
public sealed class GptTransformer : nn.Module
{
    public readonly LabelEmbedder cls_embedding;
    public readonly Embedding tok_embeddings;
    public readonly Dropout tok_dropout;
    public readonly SpecialTokenEmbedding spe_tok_embeddings;
    public readonly ModuleList<TransformerBlock> layers;
    public readonly RmsNorm norm;
    public readonly Linear output;
    private readonly Rotary2D _rotary;

    /// <param name="config">The architecture.</param>
    /// <param name="dtype">Weight precision; each block is converted as it is built, so the model never exists whole in float32.</param>
    public GptTransformer(GptConfig config, ScalarType dtype = ScalarType.Float32) : base(nameof(GptTransformer))
    {
        Config = config.Validate();
        Layout = SequenceLayout.Of(config);
        cls_embedding = new LabelEmbedder(config);
        tok_embeddings = nn.Embedding(config.VocabSize, config.Dim);
        tok_dropout = nn.Dropout(config.TokenDropoutP);
        spe_tok_embeddings = new SpecialTokenEmbedding(config);
        layers = new ModuleList<TransformerBlock>(Enumerable.Range(0, config.NLayer).Select(i => Converted(new TransformerBlock(config, i), dtype)).ToArray());
        norm = new RmsNorm(config.Dim, config.NormEps);
        output = nn.Linear(config.Dim, config.VocabSize, hasBias: false);
        _rotary = new Rotary2D(config);
        RegisterComponents();
        if (dtype != ScalarType.Float32) this.to(dtype);
        eval(); // dropout (token, residual, FFN, class label) is on only after an explicit train()
    }

    private static TransformerBlock Converted(TransformerBlock block, ScalarType dtype) =>
        dtype == ScalarType.Float32 ? block : block.to(dtype);

    public GptConfig Config { get; }

    public SequenceLayout Layout { get; }

    /// <summary>dtype of the weights (activations and the KV cache use it).</summary>
    public ScalarType DType => tok_embeddings.weight!.dtype;

    public Device Device => tok_embeddings.weight!.device;

    public long ParameterCount => parameters().Sum(p => p.numel());

    /// <summary>
    /// Cached forwards over at most this many rows attend in one pass (<see cref="CachedAttention"/>); 0 (the default):
    /// none. Set by whoever loads the model for serving, from <see cref="AttentionProbe"/>.
    /// </summary>
    public int OnePassAttentionRows
    {
        get;
        set
        {
            ArgumentOutOfRangeException.ThrowIfNegative(value);
            field = value;
        }
    }

    /// <summary>
    /// Training-style forward: codes [B, L] long, classes [B] long → logits float32 [B, S, V] over the extended
    /// sequence of spec §6.4 (S = L + G when L ≥ C, else L + 1); logits at position p predict code p. Grad-agnostic:
    /// inference callers wrap it in <c>no_grad</c>; in <c>train()</c> mode the official dropouts apply (class label
    /// → null class with <c>class_dropout_prob</c>, token dropout over the whole extended sequence, residual and FFN
    /// dropout), in <c>eval()</c> mode (the default) they are identities.
    /// </summary>
    public Tensor Forward(Tensor codes, Tensor classes, GptTrace? trace = null)
    {
        long b = classes.shape[0];
        int codeCount = (int)codes.shape[1];
        if (codes.shape[0] != b) throw new ArgumentException($"codes have {codes.shape[0]} rows, classes {b}", nameof(codes));
        int s = Layout.ExtendedLength(codeCount);
        if (s > Config.BlockSize)
            throw new ArgumentOutOfRangeException(nameof(codes), codeCount, $"{codeCount} codes extend to {s} positions, more than block_size {Config.BlockSize}");
        CheckRange(codes, Config.VocabSize, nameof(codes));
        CheckRange(classes, Config.ClassTableRows, nameof(classes));

        using var scope = torch.NewDisposeScope();
        var device = classes.device;
        var positions = torch.arange(s, dtype: int64, device: device).unsqueeze(0);        // [1, S]
        var codeIndex = Enumerable.Range(0, s).Select(p => (long)Math.Max(Layout.CodeAt(p), 0)).ToArray();
        var codesAt = codeCount == 0
            ? torch.zeros(b, s, dtype: int64, device: device)
            : codes.index_select(1, torch.tensor(codeIndex, device: device));              // [B, S]
        var h = tok_dropout.forward(Embed(classes, positions.expand(b, s), codesAt));        // [B, S, D]
        var context = new AttentionContext(RotaryRows(positions), GroupCausalMask.Build(s, Config.GroupSize, Config.EffectiveCausalNum).to(device));
        if (trace is not null) trace.Input = h.MoveToOuterDisposeScope();
        foreach (var layer in layers)
        {
            h = layer.Forward(h, context);
            if (trace is not null) trace.LayerOutputs.Add(h.MoveToOuterDisposeScope());
        }
        var normed = norm.forward(h);
        if (trace is not null) trace.FinalNorm = normed.MoveToOuterDisposeScope();
        return PackedLinear.Forward(output, normed).to(float32).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Embeds extended positions [B, L] (spec §6.4): position 0 → the row's class embedding, special positions → their
    /// spe token, other positions → the code in <paramref name="codes"/> [B, L] (ignored, but must be a valid id, at
    /// class and special positions). classes [B] → [B, L, D].
    /// </summary>
    public Tensor Embed(Tensor classes, Tensor positions, Tensor codes)
    {
        using var scope = torch.NewDisposeScope();
        var h = tok_embeddings.forward(codes);                                              // [B, L, D]
        var cls = cls_embedding.forward(classes).unsqueeze(1);                              // [B, 1, D]
        h = torch.where(positions.eq(0).unsqueeze(-1), cls, h);
        if (Config.NumSpecialTokens > 0)
        {
            int c = Config.EffectiveCausalNum;
            var isSpecial = positions.gt(c).logical_and(positions.lt(c + Config.GroupSize)).unsqueeze(-1);
            var spe = spe_tok_embeddings.forward((positions - (c + 1)).clamp(0, Config.NumSpecialTokens - 1));
            h = torch.where(isSpecial, spe, h);
        }
        return h.MoveToOuterDisposeScope();
    }

    /// <summary>Rotary rows for absolute positions [B, L] → [B, L, hd/2, 2] (float32).</summary>
    public Tensor RotaryRows(Tensor positions) => _rotary.Rows(positions);

    /// <summary>Runs every block over hidden states h [B, L, D] with <paramref name="context"/> → [B, L, D].</summary>
    public Tensor RunLayers(Tensor h, AttentionContext context)
    {
        using var scope = torch.NewDisposeScope();
        foreach (var layer in layers) h = layer.Forward(h, context);
        return h.MoveToOuterDisposeScope();
    }

    /// <summary>Final norm and output projection: [..., D] → float32 logits [..., V].</summary>
    public Tensor Head(Tensor h)
    {
        using var scope = torch.NewDisposeScope();
        return GemmRows.RowWise(h, x => PackedLinear.Forward(output, norm.forward(x))).to(float32).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Builds the model and loads a checkpoint strictly (spec §4). The config is <paramref name="config"/>, else
    /// <c>&lt;stem&gt;.json</c> of a converted checkpoint, else the <c>config.json</c> (+ <c>config.yaml</c>) the
    /// official loader finds beside the file (<c>../../</c>, then the file's folder). <paramref name="entry"/> picks the nested state dict (GPT rule: <c>ema</c>); the weights are
    /// then cast to <paramref name="dtype"/> and moved to <paramref name="device"/>.
    /// </summary>
    public static GptTransformer Load(string checkpointPath, GptConfig? config = null, CheckpointEntry entry = CheckpointEntry.Ema,
        ScalarType dtype = ScalarType.Float32, Device? device = null)
    {
        config ??= ConfigBeside(checkpointPath);
        // Built in its precision before the weights arrive: loading holds the model once and one chunk of the file.
        var model = new GptTransformer(config, dtype);
        bool loaded = false;
        try
        {
            StateDictLoader.LoadFile(model, checkpointPath, entry);
            loaded = true;
        }
        finally
        {
            if (!loaded) model.Dispose();
        }
        if (device is not null) model.to(device);
        model.eval();
        return model;
    }

    /// <summary>The config files beside a checkpoint, as <see cref="Load"/> finds them.</summary>
    public static GptConfig ConfigBeside(string checkpointPath)
    {
        string json = ConfigJson.FindConfigJson(checkpointPath)
            ?? throw new FileNotFoundException(
                $"no config for {checkpointPath}: expected <name>.json beside it or config.json two folders above or beside it; pass the GPT config explicitly", "config.json");
        return GptConfig.Load(json, ConfigJson.OfficialYamlFor(json));
    }

    private static void CheckRange(Tensor ids, long limit, string name)
    {
        if (ids.numel() == 0) return;
        long min = ids.min().item<long>(), max = ids.max().item<long>();
        if (min < 0 || max >= limit)
            throw new ArgumentOutOfRangeException(name, $"ids must lie in [0, {limit}); got values in [{min}, {max}]");
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing) _rotary.Dispose();
        base.Dispose(disposing);
    }
}
