using TorchSharp;
using static TorchSharp.torch;

namespace DetailFlow.Training.Optim;

/// <summary>
/// Official <c>update_ema</c> (utils/ema.py): for every named parameter, ema ← decay·ema + (1 − decay)·param. The
/// EMA model is a second instance of the same module type (eval mode, no gradients), initialised as a copy (decay 0).
/// </summary>
public static class ExponentialMovingAverage
{
    public static void Update(nn.Module ema, nn.Module model, double decay)
    {
        if (decay is < 0 or > 1) throw new ArgumentOutOfRangeException(nameof(decay), decay, "EMA decay must be in [0, 1]");
        var target = ema.named_parameters().ToDictionary(p => p.name, p => p.parameter, StringComparer.Ordinal);
        using var noGrad = torch.no_grad();
        foreach (var (name, p) in model.named_parameters())
        {
            if (!target.TryGetValue(name, out var e)) throw new ArgumentException($"EMA model has no parameter '{name}'", nameof(ema));
            if (decay == 0) e.copy_(p);
            else e.mul_(decay).add_(p, alpha: 1 - decay);
        }
    }

    /// <summary>Freezes an EMA copy: eval mode, no gradients.</summary>
    public static void Freeze(nn.Module ema)
    {
        foreach (var p in ema.parameters()) p.requires_grad = false;
        ema.eval();
    }
}
