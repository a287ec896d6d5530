using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace DetailFlow.Training.Evaluation.Inception;

/// <summary>
/// The FID Inception-v3 (the 2015-12-05 TF graph as pytorch-fid's <c>fid_inception_v3</c> and torch-fidelity's
/// <c>FeatureExtractorInceptionV3</c> rebuild it): torchvision's Inception3 without the auxiliary head, with the
/// FID blocks A/C/E and a 1008-class <c>fc</c>. Field names are the keys of <c>pt_inception-2015-12-05-6726825d.pth</c>
/// (<c>Conv2d_1a_3x3.conv.weight</c>, <c>Mixed_5b.branch1x1.bn.running_mean</c>, …, <c>fc.weight</c>, <c>fc.bias</c>).
/// Input: [B, 3, 299, 299] already scaled to [−1, 1] (<see cref="InceptionPreprocessing"/>); output: pool3 [B, 2048].
/// </summary>
public sealed class FidInceptionV3 : Module<Tensor, Tensor>
{
    public const int FeatureDim = 2048;
    public const int Classes = 1008;
    public const int InputSize = 299;

    private readonly BasicConv2d Conv2d_1a_3x3, Conv2d_2a_3x3, Conv2d_2b_3x3, Conv2d_3b_1x1, Conv2d_4a_3x3;
    private readonly FidInceptionA Mixed_5b, Mixed_5c, Mixed_5d;
    private readonly InceptionB Mixed_6a;
    private readonly FidInceptionC Mixed_6b, Mixed_6c, Mixed_6d, Mixed_6e;
    private readonly InceptionD Mixed_7a;
    private readonly FidInceptionE Mixed_7b, Mixed_7c;
    private readonly Linear fc;

    public FidInceptionV3() : base(nameof(FidInceptionV3))
    {
        Conv2d_1a_3x3 = new BasicConv2d(3, 32, 3, stride: 2);
        Conv2d_2a_3x3 = new BasicConv2d(32, 32, 3);
        Conv2d_2b_3x3 = new BasicConv2d(32, 64, 3, padding: 1);
        Conv2d_3b_1x1 = new BasicConv2d(64, 80, 1);
        Conv2d_4a_3x3 = new BasicConv2d(80, 192, 3);
        Mixed_5b = new FidInceptionA(192, poolFeatures: 32);
        Mixed_5c = new FidInceptionA(256, poolFeatures: 64);
        Mixed_5d = new FidInceptionA(288, poolFeatures: 64);
        Mixed_6a = new InceptionB(288);
        Mixed_6b = new FidInceptionC(768, channels7x7: 128);
        Mixed_6c = new FidInceptionC(768, channels7x7: 160);
        Mixed_6d = new FidInceptionC(768, channels7x7: 160);
        Mixed_6e = new FidInceptionC(768, channels7x7: 192);
        Mixed_7a = new InceptionD(768);
        Mixed_7b = new FidInceptionE(1280, maxPool: false);
        Mixed_7c = new FidInceptionE(2048, maxPool: true);
        fc = Linear(FeatureDim, Classes);
        RegisterComponents();
    }

    /// <summary>pool3 features [B, 2048] of preprocessed images [B, 3, 299, 299].</summary>
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        x = Conv2d_2b_3x3.forward(Conv2d_2a_3x3.forward(Conv2d_1a_3x3.forward(x)));          // [B, 64, 147, 147]
        x = Conv2d_4a_3x3.forward(Conv2d_3b_1x1.forward(InceptionPools.MaxReduce(x)));       // [B, 192, 71, 71]
        x = InceptionPools.MaxReduce(x);                                                     // [B, 192, 35, 35]
        foreach (var block in new Module<Tensor, Tensor>[] { Mixed_5b, Mixed_5c, Mixed_5d, Mixed_6a, Mixed_6b, Mixed_6c, Mixed_6d, Mixed_6e, Mixed_7a, Mixed_7b, Mixed_7c })
            x = block.forward(x);                                                            // [B, 2048, 8, 8]
        return functional.adaptive_avg_pool2d(x, [1, 1]).flatten(1).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Class logits of pool3 features without the bias: torch-fidelity's <c>logits_unbiased</c>, the layer its
    /// Inception Score uses.
    /// </summary>
    public Tensor LogitsUnbiased(Tensor pool3) => pool3.matmul(fc.weight!.t());

    /// <summary>Class logits with the bias (<c>fc(pool3)</c>; torch-fidelity's <c>logits</c>).</summary>
    public Tensor Logits(Tensor pool3) => fc.forward(pool3);
}
