using DetailFlow.Core.Gpt;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace DetailFlow.Training.Gpt;

/// <summary>
/// The official <c>initialize_weights</c> (spec §9.3): every Linear and Embedding weight ~ N(0, 0.02), the output
/// layer zeroed; the special-token table is created after that step in the official model and keeps PyTorch's
/// default N(0, 1). RMSNorm weights stay 1.
/// </summary>
public static class GptInitialization
{
    /// <summary><c>initializer_range</c> of the official ModelArgs.</summary>
    public const double InitializerRange = 0.02;

    public static void Apply(GptTransformer model, int seed)
    {
        var generator = new Generator((ulong)seed);
        using var noGrad = torch.no_grad();
        foreach (var (name, module) in model.named_modules())
        {
            if (name.StartsWith("spe_tok_embeddings", StringComparison.Ordinal))
            {
                if (module is Embedding special) special.weight!.normal_(0, 1, generator);
                continue;
            }
            if (module is Linear linear) linear.weight!.normal_(0, InitializerRange, generator);
            else if (module is Embedding embedding) embedding.weight!.normal_(0, InitializerRange, generator);
        }
        model.output.weight!.zero_();
    }
}
