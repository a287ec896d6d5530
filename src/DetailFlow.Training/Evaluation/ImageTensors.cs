using DetailFlow.Core.Imaging;
using TorchSharp;
using static TorchSharp.torch;

namespace DetailFlow.Training.Evaluation;

/// <summary>8-bit RGB images ↔ tensors for the metrics.</summary>
public static class ImageTensors
{
    /// <summary>Same-sized images → uint8 [B, 3, H, W].</summary>
    public static Tensor ToUint8(IReadOnlyList<RgbImage> images)
    {
        if (images.Count == 0) throw new ArgumentException("no images", nameof(images));
        int w = images[0].Width, h = images[0].Height;
        if (images.Any(i => i.Width != w || i.Height != h)) throw new ArgumentException("images differ in size", nameof(images));
        var bytes = new byte[images.Count * 3L * w * h];
        for (int i = 0; i < images.Count; i++) images[i].Pixels.CopyTo(bytes, i * 3L * w * h);
        using var hwc = tensor(bytes, [images.Count, h, w, 3]);
        return hwc.permute(0, 3, 1, 2).contiguous();
    }

    /// <summary>uint8 [B, 3, H, W] → float32 in [−1, 1] (ToTensor + Normalize(0.5, 0.5), as the official loaders do).</summary>
    public static Tensor ToSigned(Tensor uint8Images)
    {
        using var scope = NewDisposeScope();
        return (uint8Images.to(float32) / 127.5 - 1).MoveToOuterDisposeScope();
    }
}
