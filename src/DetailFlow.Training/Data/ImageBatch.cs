using static TorchSharp.torch;

namespace DetailFlow.Training.Data;

/// <summary>One training batch as plain arrays (built off the training thread): images [B, 3, S, S] in [−1, 1], labels [B].</summary>
public sealed record ImageBatch(long Step, float[] Pixels, long[] Labels, int Size, IReadOnlyList<SkippedImage> Skipped)
{
    public int Count => Labels.Length;

    /// <summary>Images as a float32 tensor [B, 3, S, S] on <paramref name="device"/>; the caller owns it.</summary>
    public Tensor ImagesTensor(Device? device = null) => tensor(Pixels, [Count, 3, Size, Size], device: device);

    public Tensor LabelsTensor(Device? device = null) => tensor(Labels, [Count], device: device);
}

/// <summary>An item the loader could not decode: skipped, counted, reported.</summary>
public sealed record SkippedImage(int Index, string Name, string Reason);
