using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace DetailFlow.Training.Losses;

/// <summary>
/// A PatchGAN discriminator (the official <c>discriminator_patchgan.py</c> NLayerDiscriminator shape: 4×4 convs,
/// stride 2 then 1, BatchNorm, LeakyReLU 0.2, one logit per patch). SUBSTITUTION: the released tokenizers trained
/// against a frozen DINO ViT-S/16 with spectral-norm heads, DiffAugment and LeCAM (spec §9.1), which needs DINO
/// weights that are not available offline; this small convolutional discriminator, trained from scratch, provides
/// the same hinge objective and start-step schedule.
/// </summary>
public sealed class PatchDiscriminator : nn.Module<Tensor, Tensor>
{
    public readonly Sequential main;

    public PatchDiscriminator(int channels = 64, int layers = 3, int inChannels = 3) : base(nameof(PatchDiscriminator))
    {
        if (channels <= 0) throw new ArgumentOutOfRangeException(nameof(channels), channels, "channels must be positive");
        if (layers <= 0) throw new ArgumentOutOfRangeException(nameof(layers), layers, "layers must be positive");
        var modules = new List<(string, nn.Module<Tensor, Tensor>)>
        {
            ("0", nn.Conv2d(inChannels, channels, 4, stride: 2, padding: 1)),
            ("1", nn.LeakyReLU(0.2)),
        };
        int mult = 1;
        for (int n = 1; n <= layers; n++)
        {
            int prev = mult;
            mult = Math.Min(1 << n, 8);
            long stride = n < layers ? 2 : 1;
            modules.Add(($"{modules.Count}", nn.Conv2d(channels * prev, channels * mult, 4, stride: stride, padding: 1, bias: false)));
            modules.Add(($"{modules.Count}", nn.BatchNorm2d(channels * mult)));
            modules.Add(($"{modules.Count}", nn.LeakyReLU(0.2)));
        }
        modules.Add(($"{modules.Count}", nn.Conv2d(channels * mult, 1, 4, stride: 1, padding: 1)));
        main = nn.Sequential(modules);
        RegisterComponents();
    }

    /// <summary>Images [B, 3, H, W] → patch logits [B, 1, h, w].</summary>
    public override Tensor forward(Tensor images) => main.forward(images);
}
