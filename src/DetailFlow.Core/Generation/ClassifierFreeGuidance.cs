using DetailFlow.Core.Gpt;
using static TorchSharp.torch;

namespace DetailFlow.Core.Generation;

/// <summary>
/// Classifier-free guidance (spec §7.2, §12 item 20): the model runs the conditional row and a null-class row
/// (label <see cref="GptConfig.NullClass"/>); guided = uncond + s·(cond − uncond) on float32 logits, at every step.
/// </summary>
public static class ClassifierFreeGuidance
{
    /// <summary>
    /// The scale for the step whose first produced code is <paramref name="firstCode"/>, out of
    /// <paramref name="codeCount"/> codes: s, or with gradual CFG on group steps s·(n_groups − g + 1)/(n_groups + 1)
    /// with g = firstCode / G and n_groups = codeCount / G (causal steps keep s).
    /// </summary>
    public static double ScaleAt(SamplingOptions options, SequenceLayout layout, int firstCode, int codeCount)
    {
        if (!options.GradualCfg || firstCode < layout.CausalNum) return options.CfgScale;
        int groups = codeCount / layout.GroupSize;
        int g = firstCode / layout.GroupSize;
        return options.CfgScale * (groups - g + 1) / (groups + 1);
    }

    /// <summary>uncond + (cond − uncond)·scale, in the official order of operations.</summary>
    public static Tensor Combine(Tensor cond, Tensor uncond, double scale) => uncond + (cond - uncond) * scale;
}
