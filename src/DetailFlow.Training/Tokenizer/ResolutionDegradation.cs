using DetailFlow.Core.Generation;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace DetailFlow.Training.Tokenizer;

/// <summary>
/// The training-time resolution degradation (official <c>get_input_output_img</c> and <c>get_noise_token_idx</c>,
/// spec §9.1 steps 1–2) over the Core <see cref="ResolutionSchedule"/>: with probability p a prefix length t is drawn
/// uniformly from [1, N − G] (rounded up to a multiple of G past C), the target becomes resize(resize(x, r_t), d_t)
/// (area when shrinking, bicubic align_corners = False when enlarging, identity at equal size) and the decoder runs
/// at d_t with t latents; otherwise t = N at full size.
/// </summary>
public sealed class ResolutionDegradation
{
    public ResolutionDegradation(ResolutionSchedule schedule)
    {
        Schedule = schedule ?? throw new ArgumentNullException(nameof(schedule));
        if (schedule.TokenCount < schedule.GroupSize + schedule.CausalNum)
            throw new ArgumentException($"degradation needs N ≥ G + C, got N {schedule.TokenCount}, G {schedule.GroupSize}, C {schedule.CausalNum}", nameof(schedule));
    }

    public ResolutionSchedule Schedule { get; }

    /// <summary>(t, r_t, d_t) for one batch; t = N, full size, when not degraded.</summary>
    public (int Tokens, int TargetResolution, int DecoderResolution) Sample(double probability, Random rng)
    {
        if (probability is < 0 or > 1) throw new ArgumentOutOfRangeException(nameof(probability), probability, "degradation probability must be in [0, 1]");
        int n = Schedule.TokenCount, g = Schedule.GroupSize;
        if (!(rng.NextDouble() < probability)) return (n, Schedule.MaxImageSize, Schedule.MaxImageSize);
        int t = rng.Next(1, n - g + 1);
        if (t > Schedule.CausalNum) t = (t + g - 1) / g * g;
        return (t, Schedule.Resolution(t), Schedule.DecoderResolution(t));
    }

    /// <summary>The degraded target: images [B, 3, S, S] → [B, 3, d, d] via r (spec §9.1 step 1).</summary>
    public static Tensor Target(Tensor images, int targetResolution, int decoderResolution)
    {
        using var scope = NewDisposeScope();
        var low = Resize(images, targetResolution);
        return Resize(low, decoderResolution).MoveToOuterDisposeScope();
    }

    /// <summary>Official <c>resize_imgs</c>: area when shrinking, bicubic (align_corners False, no antialias) when enlarging.</summary>
    public static Tensor Resize(Tensor images, int size)
    {
        long h = images.shape[2];
        if (h == size) return images.alias();
        return h > size
            ? F.interpolate(images, [size, size], mode: InterpolationMode.Area)
            : F.interpolate(images, [size, size], mode: InterpolationMode.Bicubic, align_corners: false);
    }

    /// <summary>
    /// Official <c>get_noise_token_idx(t, p = 1, correction_training = True)</c>: null for t = 1; t ≤ C → uniform in
    /// [0, t); else uniform in [0, t − G), floored to a multiple of G when it lands at or past C.
    /// </summary>
    public int? NoiseIndex(int tokens, Random rng)
    {
        if (!Schedule.IsValidPrefix(tokens)) throw new ArgumentOutOfRangeException(nameof(tokens), tokens, "not a prefix length of the schedule");
        if (tokens == 1) return null;
        int c = Schedule.CausalNum, g = Schedule.GroupSize;
        int max = tokens <= c ? tokens : tokens - g;
        int index = rng.Next(0, max);
        return index < c ? index : index / g * g;
    }
}
