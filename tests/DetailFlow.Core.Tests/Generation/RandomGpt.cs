using DetailFlow.Core.Gpt;
using TorchSharp;

namespace DetailFlow.Core.Tests.Generation;

/// <summary>Small GPTs with seeded random weights for shapes the fixtures do not cover.</summary>
internal static class RandomGpt
{
    public static GptTransformer Build(int groupSize, int causalNum, int blockSize, int seed = 1, int vocab = 48, int classes = 6)
    {
        torch.manual_seed(seed);
        var config = new GptConfig
        {
            Dim = 32, NLayer = 2, NHead = 2, VocabSize = vocab, NumClasses = classes,
            BlockSize = blockSize, GroupSize = groupSize, CausalNum = causalNum, MultipleOf = 32,
        };
        var model = new GptTransformer(config);
        using (torch.no_grad())
        {
            // TorchSharp's default init gives tiny logits; spread them (like the fixtures' re-drawn output layer) so
            // greedy arg-max margins stay far above float32 noise.
            model.output.weight!.mul_(6);
        }
        model.eval();
        return model;
    }
}
