using DetailFlow.Core.Gpt;
using DetailFlow.Core.Tokenizer;

namespace DetailFlow.Core.Runtime;

/// <summary>
/// <paramref name="Count"/> calls of torch <c>linear</c> with input [M, K] and weight [N, K] (one model's linear
/// layers of one shape in one forward); <paramref name="GeluTanh"/>: each followed by GELU (tanh), which packed weights
/// run in the product's epilogue (<see cref="PackedLinear.ForwardGeluTanh"/>), so timings include it.
/// </summary>
public readonly record struct GemmShape(long M, long K, long N, int Count, bool GeluTanh = false)
{
    /// <summary>Multiply-adds × 2 of all <see cref="Count"/> calls.</summary>
    public double Flops => 2.0 * M * K * N * Count;

    /// <summary>Weight elements read by all <see cref="Count"/> calls.</summary>
    public double WeightElements => (double)K * N * Count;

    public override string ToString() => $"{Count}×[{M},{K}]·[{K},{N}]";
}

/// <summary>The matrix products of one forward of the models, per linear-layer shape.</summary>
public static class StepShapes
{
    /// <summary>
    /// One GPT step over <paramref name="positions"/> fed positions (all layers: fused q/k/v, output projection, SwiGLU,
    /// then the output head over as many positions). A guided request's step feeds 2 rows × G codes.
    /// </summary>
    public static IReadOnlyList<GemmShape> Gpt(GptConfig config, long positions)
    {
        long d = config.Dim, f = config.FfnHidden;
        int layers = config.NLayer;
        return
        [
            new(positions, d, 3 * d, layers),
            new(positions, d, d, layers),
            new(positions, d, f, 2 * layers),
            new(positions, f, d, layers),
            new(positions, d, config.VocabSize, 1),
        ];
    }

    /// <summary>
    /// One decode of <paramref name="images"/> full-resolution images: every decoder layer runs over the g² grid
    /// tokens plus the N latents (q, k, v, out; fc1, fc2), then <c>to_pixel</c> over the grid tokens.
    /// </summary>
    public static IReadOnlyList<GemmShape> Decoder(TokenizerConfig config, long images)
    {
        var vit = config.Dec;
        long grid = config.ImageSize / vit.PatchSize;
        long tokens = images * (grid * grid + config.NumLatentTokens);
        long h = vit.HiddenSize, i = vit.IntermediateSize;
        int layers = vit.NumHiddenLayers;
        return
        [
            new(tokens, h, h, 4 * layers),
            new(tokens, h, i, layers, GeluTanh: true),
            new(tokens, i, h, layers),
            new(images * grid * grid, h, 3L * vit.PatchSize * vit.PatchSize, 1),
        ];
    }

    public static double Flops(IEnumerable<GemmShape> shapes) => shapes.Sum(s => s.Flops);

    public static double WeightElements(IEnumerable<GemmShape> shapes) => shapes.Sum(s => s.WeightElements);

    /// <summary>Number of KV-engine steps of one image (the causal phase one code at a time, then groups of G).</summary>
    public static int GptSteps(GptConfig config)
    {
        var layout = SequenceLayout.Of(config);
        int steps = 0;
        for (int t = 0; t < config.BlockSize; t += layout.CodesPerStep(t)) steps++;
        return steps;
    }
}
