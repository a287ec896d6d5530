using DetailFlow.Core.Gpt;

namespace DetailFlow.Cli.Bench;

/// <summary>
/// Floating-point operations one image costs in each engine (matrix products only; 2 FLOP per multiply-add), from the
/// schedule of spec §7.1/§7.4. Per fed position and layer: q/k/v/o projections 2·D·4D, SwiGLU 2·D·3F, attention
/// 4·W·D over W keys; the output layer 2·D·V per position whose logits are computed. The recompute sampler feeds the
/// whole prefix (S positions, S×S attention, logits at all S); the KV engine feeds only the new block.
/// </summary>
public static class GenerationFlops
{
    public static double PerImage(GptConfig config, BenchEngine engine, bool guidance)
    {
        var layout = SequenceLayout.Of(config);
        double d = config.Dim, f = config.FfnHidden, v = config.VocabSize, layers = config.NLayer;
        double perToken = layers * 2 * d * (4 * d + 3 * f);
        double total = 0;
        int fedEnd = 0;
        for (int t = 0; t < config.BlockSize; t += layout.CodesPerStep(t))
        {
            int end = layout.ExtendedLength(t);
            if (engine == BenchEngine.Kv)
            {
                int fed = end - fedEnd;
                total += fed * (perToken + layers * 4 * end * d) + layout.CodesPerStep(t) * 2 * d * v;
            }
            else
            {
                total += end * (perToken + layers * 4 * end * d + 2 * d * v);
            }
            fedEnd = end;
        }
        return guidance ? 2 * total : total;
    }
}
