using DetailFlow.Core.Checkpoints;
using TorchSharp;

namespace DetailFlow.Training.Checkpointing;

/// <summary>Fine-tuning start: copies a loaded model's weights into a freshly built trainer model of the same architecture.</summary>
public static class WeightTransfer
{
    /// <summary>
    /// Copies every tensor of <paramref name="target"/>'s state dict from <paramref name="source"/>; shapes must match.
    /// Training-only tensors (<see cref="StateDictLoader.IsTrainingOnly"/>) missing from the source keep their values.
    /// </summary>
    public static void Copy(torch.nn.Module source, torch.nn.Module target, string sourceName)
    {
        using var noGrad = torch.no_grad();
        var from = source.state_dict();
        var missing = new List<string>();
        foreach (var (key, to) in target.state_dict())
        {
            if (!from.TryGetValue(key, out var value))
            {
                if (!StateDictLoader.IsTrainingOnly(key)) missing.Add(key);
                continue;
            }
            if (!value.shape.SequenceEqual(to.shape))
                throw new InvalidDataException($"{sourceName}: '{key}' has shape [{string.Join(", ", value.shape)}], the model needs [{string.Join(", ", to.shape)}]");
            to.copy_(value);
        }
        if (missing.Count > 0) throw new InvalidDataException($"{sourceName}: missing {missing.Count} tensors ({string.Join(", ", missing.Take(5))})");
    }
}
