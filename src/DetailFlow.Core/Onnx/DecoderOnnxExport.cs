using DetailFlow.Core.Onnx.Proto;
using DetailFlow.Core.Tokenizer;
using Google.Protobuf;
using TorchSharp;
using static TorchSharp.torch;
using B = DetailFlow.Core.Onnx.OnnxGraphBuilder;
using DT = DetailFlow.Core.Onnx.Proto.TensorProto.Types.DataType;

namespace DetailFlow.Core.Onnx;

/// <summary>
/// Writes the tokenizer's decode path (codes → l2-normalised codebook rows → <c>post_quant_conv</c> → SigLIP2 decoder
/// ViT over [mask_token + position table; latents + latent_pos_embed] → <c>post_layernorm</c> → <c>to_pixel</c> →
/// unpatchify) as one float32 ONNX graph from the weights of a loaded <see cref="VqModel"/>. Every
/// resolution-dependent piece is an input, so one graph serves every scheduled resolution, batch and prefix:
/// <list type="bullet">
/// <item><c>codes</c> int64 [batch, tokens]: the codes, padded to the longest prefix of the batch;</item>
/// <item><c>position</c> float [grid, grid, D]: the decoder position table resized to the patch grid
/// (<see cref="SiglipEmbeddings.PositionTable"/>); the grid, the grid-token count and the image size come from its shape;</item>
/// <item><c>key_mask</c> int32 [batch, grid² + tokens]: 1 = attend to that key, 0 = padding (blocked);</item>
/// <item>output <c>pixels</c> float [batch, 3, grid·p, grid·p], nominal range [−1, 1].</item>
/// </list>
/// Attention is ORT's <c>com.microsoft.Attention</c> (packed QKV projection, fused softmax, the key mask as its mask
/// input) and the MLP activation <c>com.microsoft.FastGelu</c> (bias fused): the faster graph of the variants measured
/// (docs/performance.md).
/// </summary>
public static class DecoderOnnxExport
{
    public const string CodesInput = "codes";
    public const string PositionInput = "position";
    public const string KeyMaskInput = "key_mask";
    public const string PixelsOutput = "pixels";

    /// <summary>ONNX opset of the graph (LayerNormalization needs 17).</summary>
    public const int Opset = 20;

    /// <summary>Builds the model proto; <see cref="Export(VqModel)"/> gives its bytes.</summary>
    public static ModelProto Build(VqModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        var vit = model.Config.Dec;
        int d = vit.HiddenSize, heads = vit.NumAttentionHeads, p = vit.PatchSize;
        var eps = (float)vit.LayerNormEps;
        var dec = model.decoder;
        var g = new B("detailflow_decoder");

        using var noGrad = torch.no_grad();
        using var scope = NewDisposeScope();
        g.Graph.Input.Add(B.Value(CodesInput, DT.Int64, "batch", "tokens"));
        g.Graph.Input.Add(B.Value(PositionInput, DT.Float, "grid", "grid", (long)d));
        g.Graph.Input.Add(B.Value(KeyMaskInput, DT.Int32, "batch", "length"));
        g.Graph.Output.Add(B.Value(PixelsOutput, DT.Float, "batch", 3L, "size", "size"));

        // Sizes from the input shapes: batch, tokens, grid.
        string batch = g.Node("Shape", "batch", [CodesInput], B.Int("start", 0), B.Int("end", 1));
        string tokens = g.Node("Shape", "tokens", [CodesInput], B.Int("start", 1), B.Int("end", 2));
        string grid = g.Node("Shape", "grid", [PositionInput], B.Int("start", 0), B.Int("end", 1));
        string one = g.Int64s("one", 1), zero = g.Int64s("zero", 0);

        // Codes → normalised codebook rows → post_quant_conv, plus latent_pos_embed[:t].
        string rows = g.Node("Gather", "codebook", [g.Weight("quantize.codebook_normalized", model.quantize.Codebook()), CodesInput], B.Int("axis", 0));
        string latents = Linear(g, "post_quant_conv", model.post_quant_conv, rows);                                      // [B, t, D]
        string latentPos = g.Node("Slice", "latent_pos", [g.Weight("decoder.latent_pos_embed", dec.latent_pos_embed[0]), zero, tokens, zero]); // [t, D]
        string z = g.Node("Add", "z", [latents, latentPos]);

        // Grid tokens: mask_token + resized position table, broadcast over the batch.
        string table = g.Node("Reshape", "position_flat", [PositionInput, g.Int64s("flat_shape", -1, d)]);           // [g², D]
        string gridTokens = g.Node("Add", "grid_tokens", [table, g.Weight("decoder.mask_token", dec.mask_token.reshape(d))]);
        string expandShape = g.Node("Concat", "expand_shape", [batch, one, one], B.Int("axis", 0));
        string h = g.Node("Concat", "sequence", [g.Node("Expand", "grid_batch", [gridTokens, expandShape]), z], B.Int("axis", 1)); // [B, L, D]

        var layers = dec.visual_model.encoder.layers;
        for (int i = 0; i < layers.Count; i++)
            h = EncoderLayer(g, $"decoder.layers.{i}", layers[i], h, heads, eps);
        h = LayerNorm(g, "decoder.post_layernorm", dec.visual_model.post_layernorm, h, eps);

        // The first g² outputs → to_pixel → unpatchify ('nhwpqc->nchpwq').
        string gridCount = g.Node("Mul", "grid_count", [grid, grid]);
        string gridOut = g.Node("Slice", "grid_out", [h, zero, gridCount, one]);
        string patches = Linear(g, "decoder.to_pixel", dec.to_pixel.model, gridOut);                                     // [B, g², p·p·3]
        string sixD = g.Node("Concat", "patch_shape", [g.Int64s("minus_one", -1), grid, grid, g.Int64s("patch_dims", p, p, 3)], B.Int("axis", 0));
        string perm = g.Node("Transpose", "unpatchify", [g.Node("Reshape", "patches6", [patches, sixD])], B.Ints("perm", 0, 5, 1, 3, 2, 4));
        string side = g.Node("Mul", "side", [grid, g.Int64s("patch", p)]);
        string imageShape = g.Node("Concat", "image_shape", [g.Int64s("batch_rgb", -1, 3), side, side], B.Int("axis", 0));
        g.NameOutput(g.Node("Reshape", "image", [perm, imageShape]), PixelsOutput);

        return Model(g, model);
    }

    /// <summary>One pre-norm SigLIP block: fused-QKV attention (com.microsoft Attention) and the FastGelu MLP, each with its residual.</summary>
    private static string EncoderLayer(B g, string pre, SiglipEncoderLayer layer, string h, int heads, float eps)
    {
        var attn = layer.self_attn;
        string x1 = LayerNorm(g, pre + ".layer_norm1", layer.layer_norm1, h, eps);
        var wqkv = torch.cat([attn.q_proj.weight!, attn.k_proj.weight!, attn.v_proj.weight!], 0).t(); // [D, 3D]
        var bqkv = torch.cat([attn.q_proj.bias!, attn.k_proj.bias!, attn.v_proj.bias!], 0);
        string attended = g.NodeIn(B.MicrosoftDomain, "Attention", pre + ".attention",
            [x1, g.Weight(pre + ".qkv.weight_t", wqkv), g.Weight(pre + ".qkv.bias", bqkv), KeyMaskInput], B.Int("num_heads", heads));
        h = g.Node("Add", pre + ".residual1", [h, Linear(g, pre + ".out_proj", attn.out_proj, attended)]);

        string x2 = LayerNorm(g, pre + ".layer_norm2", layer.layer_norm2, h, eps);
        var mlp = layer.mlp;
        string up = g.Node("MatMul", pre + ".fc1", [x2, g.Weight(pre + ".fc1.weight_t", mlp.fc1.weight!.t())]);
        string fc1Bias = g.Weight(pre + ".fc1.bias", mlp.fc1.bias!);
        string act = g.NodeIn(B.MicrosoftDomain, "FastGelu", pre + ".gelu", [up, fc1Bias]);
        return g.Node("Add", pre + ".residual2", [h, Linear(g, pre + ".fc2", mlp.fc2, act)]);
    }

    private static string Linear(B g, string name, TorchSharp.Modules.Linear layer, string x) =>
        g.Node("Add", name, [g.Node("MatMul", name, [x, g.Weight(name + ".weight_t", layer.weight!.t())]), g.Weight(name + ".bias", layer.bias!)]);

    private static string LayerNorm(B g, string name, TorchSharp.Modules.LayerNorm ln, string x, float eps) =>
        g.Node("LayerNormalization", name, [x, g.Weight(name + ".weight", ln.weight!), g.Weight(name + ".bias", ln.bias!)],
            B.Int("axis", -1), B.Float("epsilon", eps));

    /// <summary>The model proto around the graph: opsets (standard and com.microsoft) and the metadata a loader checks.</summary>
    private static ModelProto Model(B g, VqModel model)
    {
        var proto = new ModelProto
        {
            IrVersion = 10,
            ProducerName = "DetailFlow.Api",
            ProducerVersion = typeof(DecoderOnnxExport).Assembly.GetName().Version?.ToString() ?? "",
            DocString = "DetailFlow tokenizer decoder: codes [batch, tokens] + resized position table [grid, grid, D] + key mask → pixels",
            Graph = g.Graph,
        };
        proto.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = Opset });
        proto.OpsetImport.Add(new OperatorSetIdProto { Domain = B.MicrosoftDomain, Version = 1 });
        foreach (var (key, value) in Metadata(model))
            proto.MetadataProps.Add(new StringStringEntryProto { Key = key, Value = value });
        return proto;
    }

    /// <summary>The serialized ONNX model.</summary>
    public static byte[] Export(VqModel model) => Build(model).ToByteArray();

    /// <summary>Writes the ONNX model to <paramref name="path"/>.</summary>
    public static void Export(VqModel model, string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var proto = Build(model);
        using var file = File.Create(path);
        proto.WriteTo(file);
    }

    /// <summary>Shape facts a runner checks against the model it pairs the graph with.</summary>
    public static IReadOnlyDictionary<string, string> Metadata(VqModel model) => new Dictionary<string, string>
    {
        ["detailflow.hidden_size"] = model.Config.Dec.HiddenSize.ToString(),
        ["detailflow.patch_size"] = model.Config.Dec.PatchSize.ToString(),
        ["detailflow.num_latent_tokens"] = model.NumLatentTokens.ToString(),
        ["detailflow.codebook_size"] = model.Config.CodebookSize.ToString(),
    };
}
