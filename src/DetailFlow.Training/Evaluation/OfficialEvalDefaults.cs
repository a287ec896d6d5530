namespace DetailFlow.Training.Evaluation;

/// <summary>
/// The official evaluation settings (<c>scripts/eval_c2i.sh</c>, README; spec §10): cfg per released model,
/// top-k = the whole codebook (TOP_K=8192), top-p 1, temperature 1, 50,000 samples (= 50 per ImageNet class).
/// </summary>
public static class OfficialEvalDefaults
{
    public const int PerClass = 50;
    public const double TopP = 1.0;
    public const double Temperature = 1.0;

    /// <summary>The script's default scale when the model is not one of the releases.</summary>
    public const double FallbackCfg = 1.5;

    /// <summary>README cfg of the release with <paramref name="tokens"/> codes: DetailFlow-16 (128) 1.45, -32 (256) 1.5, -64 (512) 1.32.</summary>
    public static double CfgFor(int tokens) => tokens switch
    {
        128 => 1.45,
        256 => 1.5,
        512 => 1.32,
        _ => FallbackCfg,
    };
}
