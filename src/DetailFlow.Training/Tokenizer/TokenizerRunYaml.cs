using System.Globalization;
using DetailFlow.Core.Tokenizer;

namespace DetailFlow.Training.Tokenizer;

/// <summary>The <c>config.yaml</c> a tokenizer run writes beside its checkpoints, so the official loaders can read them.</summary>
internal static class TokenizerRunYaml
{
    /// <summary>The fields of <c>config.yaml</c> the loaders read (spec §4.3) plus the training settings.</summary>
    public static IEnumerable<KeyValuePair<string, string>> For(TokenizerConfig c, TokenizerTrainingOptions o)
    {
        var inv = CultureInfo.InvariantCulture;
        yield return new("vq_model", "VQ-16");
        yield return new("content_degradation", "resolution_power");
        yield return new("enc_type", c.EncType);
        yield return new("image_size", c.ImageSize.ToString(inv));
        yield return new("max_image_size", c.MaxImageSize.ToString(inv));
        yield return new("min_image_size", c.ImageSize.ToString(inv));
        yield return new("num_latent_tokens", c.NumLatentTokens.ToString(inv));
        yield return new("group_size", c.GroupSize.ToString(inv));
        yield return new("degradation_power", c.DegradationPower.ToString("R", inv));
        yield return new("degradation_prob", o.DegradationProb.ToString("R", inv));
        yield return new("ema", o.Ema ? "True" : "False");
        yield return new("lr", o.Lr.ToString("R", inv));
        yield return new("beta1", o.Beta1.ToString("R", inv));
        yield return new("beta2", o.Beta2.ToString("R", inv));
        yield return new("max_grad_norm", o.MaxGradNorm.ToString("R", inv));
        yield return new("global_batch_size", o.BatchSize.ToString(inv));
        yield return new("global_seed", o.Seed.ToString(inv));
        yield return new("perceptual_weight", (o.PerceptualModel is null ? 0 : o.PerceptualWeight).ToString("R", inv));
        yield return new("perceptual_warmup", o.PerceptualWarmup.ToString(inv));
        yield return new("disc_weight", o.DiscWeight.ToString("R", inv));
        yield return new("disc_start", o.DiscStart.ToString(inv));
        yield return new("disc_type", o.DiscWeight > 0 ? "patchgan" : "none");
        yield return new("disc_loss", "hinge");
        yield return new("gen_loss", "hinge");
    }
}
