using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace DetailFlow.Training.Losses;

/// <summary>The hinge GAN losses of <c>losses/vq_loss.py</c> (<c>hinge_d_loss</c>, <c>hinge_gen_loss</c>).</summary>
public static class HingeLoss
{
    /// <summary>½·(mean(relu(1 − D(real))) + mean(relu(1 + D(fake)))).</summary>
    public static Tensor Discriminator(Tensor logitsReal, Tensor logitsFake)
    {
        using var scope = NewDisposeScope();
        return (0.5 * (F.relu(1 - logitsReal).mean() + F.relu(1 + logitsFake).mean())).MoveToOuterDisposeScope();
    }

    /// <summary>−mean(D(fake)).</summary>
    public static Tensor Generator(Tensor logitsFake) => -logitsFake.mean();

    /// <summary>Official <c>adopt_weight</c>: the weight from <paramref name="start"/> on, 0 before.</summary>
    public static double WeightAt(double weight, long step, long start) => step < start ? 0 : weight;
}
