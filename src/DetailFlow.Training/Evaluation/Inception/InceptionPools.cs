using TorchSharp;
using static TorchSharp.torch;

namespace DetailFlow.Training.Evaluation.Inception;

/// <summary>The pooling branches of the FID Inception blocks (pytorch-fid / torch-fidelity).</summary>
internal static class InceptionPools
{
    /// <summary>3×3 average pool, stride 1, padding 1, padded cells not counted (the 2015 TF graph; torchvision counts them).</summary>
    public static Tensor Average3x3(Tensor x) =>
        nn.functional.avg_pool2d(x, 3, stride: 1, padding: 1, count_include_pad: false);

    /// <summary>3×3 max pool, stride 1, padding 1 (the FID graph's last block, FIDInceptionE_2).</summary>
    public static Tensor Max3x3(Tensor x) => nn.functional.max_pool2d(x, 3, stride: 1, padding: 1);

    /// <summary>3×3 max pool, stride 2 (reduction blocks and the stem).</summary>
    public static Tensor MaxReduce(Tensor x) => nn.functional.max_pool2d(x, 3, stride: 2);
}
