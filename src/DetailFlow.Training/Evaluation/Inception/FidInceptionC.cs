using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace DetailFlow.Training.Evaluation.Inception;

/// <summary>Mixed_6b–6e (pytorch-fid <c>FIDInceptionC</c>, 768 → 768): 1×1, factorised 7×7, double 7×7 and average-pool branches.</summary>
public sealed class FidInceptionC : Module<Tensor, Tensor>
{
    private readonly BasicConv2d branch1x1, branch7x7_1, branch7x7_2, branch7x7_3,
        branch7x7dbl_1, branch7x7dbl_2, branch7x7dbl_3, branch7x7dbl_4, branch7x7dbl_5, branch_pool;

    public FidInceptionC(long inChannels, long channels7x7) : base(nameof(FidInceptionC))
    {
        long c7 = channels7x7;
        branch1x1 = new BasicConv2d(inChannels, 192, 1);
        branch7x7_1 = new BasicConv2d(inChannels, c7, 1);
        branch7x7_2 = new BasicConv2d(c7, c7, (1, 7), padding: (0, 3));
        branch7x7_3 = new BasicConv2d(c7, 192, (7, 1), padding: (3, 0));
        branch7x7dbl_1 = new BasicConv2d(inChannels, c7, 1);
        branch7x7dbl_2 = new BasicConv2d(c7, c7, (7, 1), padding: (3, 0));
        branch7x7dbl_3 = new BasicConv2d(c7, c7, (1, 7), padding: (0, 3));
        branch7x7dbl_4 = new BasicConv2d(c7, c7, (7, 1), padding: (3, 0));
        branch7x7dbl_5 = new BasicConv2d(c7, 192, (1, 7), padding: (0, 3));
        branch_pool = new BasicConv2d(inChannels, 192, 1);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var b1 = branch1x1.forward(x);
        var b7 = branch7x7_3.forward(branch7x7_2.forward(branch7x7_1.forward(x)));
        var bd = branch7x7dbl_1.forward(x);
        foreach (var conv in new[] { branch7x7dbl_2, branch7x7dbl_3, branch7x7dbl_4, branch7x7dbl_5 }) bd = conv.forward(bd);
        var bp = branch_pool.forward(InceptionPools.Average3x3(x));
        return cat([b1, b7, bd, bp], 1).MoveToOuterDisposeScope();
    }
}
