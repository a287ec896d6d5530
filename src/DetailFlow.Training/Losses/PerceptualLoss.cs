using DetailFlow.Core.Checkpoints;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace DetailFlow.Training.Losses;

/// <summary>
/// The LPIPS-VGG perceptual distance of the official <c>modelling/lpips/lpips.py</c>: inputs scaled by the LPIPS
/// shift/scale, VGG16 features at relu1_2, relu2_2, relu3_3, relu4_3, relu5_3, each unit-normalised over channels,
/// squared difference, a 1×1 conv per tap (<c>lin0..lin4</c>), spatial mean, summed; averaged over the batch.
/// <para>Network file (no download, no default): a state dict as PyTorch's <c>LPIPS().state_dict()</c> saves it, as
/// <c>.pt</c> (flat or under <c>model</c>) or <c>.safetensors</c>, with keys <c>net.slice1.{0,2}</c>,
/// <c>net.slice2.{1,3}</c>, <c>net.slice{3,4,5}.{1,3,5}</c> (<c>.weight</c>, <c>.bias</c> of the VGG16 convs) and
/// <c>lin{0..4}.model.1.weight</c> ([1, C, 1, 1]); the <c>scaling_layer.*</c> constants may be present. Loaded
/// strictly and frozen.</para>
/// </summary>
public sealed class PerceptualLoss : nn.Module
{
    private static readonly float[] Shift = [-0.030f, -0.088f, -0.188f];
    private static readonly float[] Scale = [0.458f, 0.448f, 0.450f];
    private static readonly int[] Channels = [64, 128, 256, 512, 512];

    public readonly Vgg16Slices net;
    public readonly LinLayer lin0, lin1, lin2, lin3, lin4;

    public PerceptualLoss() : base(nameof(PerceptualLoss))
    {
        net = new Vgg16Slices();
        (lin0, lin1, lin2, lin3, lin4) = (new(Channels[0]), new(Channels[1]), new(Channels[2]), new(Channels[3]), new(Channels[4]));
        RegisterComponents();
    }

    /// <summary>Loads the network from <paramref name="path"/> (format above) and freezes it.</summary>
    public static PerceptualLoss Load(string path)
    {
        if (!File.Exists(path))
            throw new FileNotFoundException($"perceptual (LPIPS) network not found: {path}. Expected a state dict of LPIPS-VGG (keys net.slice*.*, lin*.model.1.weight) as .pt or .safetensors; omit the option to train without the perceptual loss", path);
        var weights = CheckpointReader.Read(path, CheckpointEntry.Model);
        var model = new PerceptualLoss();
        try
        {
            StateDictLoader.Load(model, weights, path, key => key.StartsWith("scaling_layer.", StringComparison.Ordinal));
        }
        finally
        {
            foreach (var t in weights.Values) t.Dispose();
        }
        foreach (var p in model.parameters()) p.requires_grad = false;
        model.eval();
        return model;
    }

    /// <summary>Mean LPIPS distance between two image batches [B, 3, H, W] in [−1, 1] (differentiable in both).</summary>
    public Tensor Distance(Tensor a, Tensor b)
    {
        using var scope = NewDisposeScope();
        var shift = tensor(Shift, [1, 3, 1, 1], device: a.device);
        var scale = tensor(Scale, [1, 3, 1, 1], device: a.device);
        var fa = net.Features((a - shift) / scale);
        var fb = net.Features((b - shift) / scale);
        LinLayer[] lins = [lin0, lin1, lin2, lin3, lin4];
        Tensor total = zeros(a.shape[0], device: a.device);
        for (int i = 0; i < lins.Length; i++)
        {
            var diff = (Normalize(fa[i]) - Normalize(fb[i])).pow(2);
            total = total + lins[i].model.forward(diff).mean([1, 2, 3]);
        }
        return total.mean().MoveToOuterDisposeScope();
    }

    private static Tensor Normalize(Tensor x) => x / (x.pow(2).sum(1, keepdim: true).sqrt() + 1e-10);

    /// <summary>LPIPS <c>NetLinLayer</c>: <c>model = [Dropout, Conv2d(C→1, 1×1, no bias)]</c>.</summary>
    public sealed class LinLayer : nn.Module
    {
        public readonly Sequential model;

        public LinLayer(int channels) : base(nameof(LinLayer))
        {
            model = nn.Sequential(("0", nn.Dropout()), ("1", nn.Conv2d(channels, 1, 1, bias: false)));
            RegisterComponents();
        }
    }

    /// <summary>torchvision VGG16 <c>features[0:30]</c> cut into LPIPS's five slices (indices restart at 0 per slice).</summary>
    public sealed class Vgg16Slices : nn.Module
    {
        public readonly Sequential slice1, slice2, slice3, slice4, slice5;

        public Vgg16Slices() : base(nameof(Vgg16Slices))
        {
            slice1 = Block(poolFirst: false, (3, 64), (64, 64));
            slice2 = Block(poolFirst: true, (64, 128), (128, 128));
            slice3 = Block(poolFirst: true, (128, 256), (256, 256), (256, 256));
            slice4 = Block(poolFirst: true, (256, 512), (512, 512), (512, 512));
            slice5 = Block(poolFirst: true, (512, 512), (512, 512), (512, 512));
            RegisterComponents();
        }

        public Tensor[] Features(Tensor x)
        {
            var outs = new Tensor[5];
            Sequential[] slices = [slice1, slice2, slice3, slice4, slice5];
            for (int i = 0; i < 5; i++) x = outs[i] = slices[i].forward(x);
            return outs;
        }

        private static Sequential Block(bool poolFirst, params (int In, int Out)[] convs)
        {
            var layers = new List<(string, nn.Module<Tensor, Tensor>)>();
            if (poolFirst) layers.Add(("0", nn.MaxPool2d(2, 2)));
            foreach (var (cin, cout) in convs)
            {
                layers.Add(($"{layers.Count}", nn.Conv2d(cin, cout, 3, padding: 1)));
                layers.Add(($"{layers.Count}", nn.ReLU()));
            }
            return nn.Sequential(layers);
        }
    }
}
