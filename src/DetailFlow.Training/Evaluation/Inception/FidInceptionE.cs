using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace DetailFlow.Training.Evaluation.Inception;

/// <summary>
/// Mixed_7b / Mixed_7c (pytorch-fid <c>FIDInceptionE_1</c> / <c>FIDInceptionE_2</c>, → 2048 channels): 1×1, split 3×3,
/// split double 3×3 and pool branches. The two differ only in the pool: 7b averages (padding not counted), 7c takes
/// the maximum — a quirk of the 2015 TF graph that FID reference statistics depend on.
/// </summary>
public sealed class FidInceptionE : Module<Tensor, Tensor>
{
    private readonly BasicConv2d branch1x1, branch3x3_1, branch3x3_2a, branch3x3_2b,
        branch3x3dbl_1, branch3x3dbl_2, branch3x3dbl_3a, branch3x3dbl_3b, branch_pool;
    private readonly bool _maxPool;

    public FidInceptionE(long inChannels, bool maxPool) : base(nameof(FidInceptionE))
    {
        _maxPool = maxPool;
        branch1x1 = new BasicConv2d(inChannels, 320, 1);
        branch3x3_1 = new BasicConv2d(inChannels, 384, 1);
        branch3x3_2a = new BasicConv2d(384, 384, (1, 3), padding: (0, 1));
        branch3x3_2b = new BasicConv2d(384, 384, (3, 1), padding: (1, 0));
        branch3x3dbl_1 = new BasicConv2d(inChannels, 448, 1);
        branch3x3dbl_2 = new BasicConv2d(448, 384, 3, padding: 1);
        branch3x3dbl_3a = new BasicConv2d(384, 384, (1, 3), padding: (0, 1));
        branch3x3dbl_3b = new BasicConv2d(384, 384, (3, 1), padding: (1, 0));
        branch_pool = new BasicConv2d(inChannels, 192, 1);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var b1 = branch1x1.forward(x);
        var s = branch3x3_1.forward(x);
        var b3 = cat([branch3x3_2a.forward(s), branch3x3_2b.forward(s)], 1);
        var d = branch3x3dbl_2.forward(branch3x3dbl_1.forward(x));
        var bd = cat([branch3x3dbl_3a.forward(d), branch3x3dbl_3b.forward(d)], 1);
        var bp = branch_pool.forward(_maxPool ? InceptionPools.Max3x3(x) : InceptionPools.Average3x3(x));
        return cat([b1, b3, bd, bp], 1).MoveToOuterDisposeScope();
    }
}
