using TorchSharp;
using static TorchSharp.torch;

namespace DetailFlow.Training.Evaluation;

/// <summary>
/// Streams feature batches into FID statistics without keeping the features: float64 sums of x − K and of
/// (x − K)(x − K)ᵀ, shifted by the first batch's mean K so the covariance does not lose digits to a large mean.
/// </summary>
public sealed class FeatureAccumulator : IDisposable
{
    private Tensor? _shift, _sum, _outer;

    public long Count { get; private set; }

    /// <summary>Adds features [B, D] (any floating dtype).</summary>
    public void Add(Tensor features)
    {
        if (features.dim() != 2) throw new ArgumentException($"features must be [B, D], got [{string.Join(", ", features.shape)}]", nameof(features));
        if (features.shape[0] == 0) return;
        if (_shift is not null && features.shape[1] != _shift.shape[0])
            throw new ArgumentException($"feature dimension {features.shape[1]} differs from the earlier {_shift.shape[0]}", nameof(features));
        using var scope = NewDisposeScope();
        var f = features.to(float64).cpu();
        if (_shift is null)
        {
            long d = f.shape[1];
            _shift = f.mean([0]).DetachFromDisposeScope();
            _sum = zeros(d, dtype: float64).DetachFromDisposeScope();
            _outer = zeros(d, d, dtype: float64).DetachFromDisposeScope();
        }
        var c = f - _shift;
        _sum!.add_(c.sum([0]));
        _outer!.add_(c.t().matmul(c));
        Count += f.shape[0];
    }

    public FeatureStatistics ToStatistics()
    {
        if (Count < 2) throw new InvalidOperationException($"FID statistics need at least 2 feature vectors, got {Count}");
        using var scope = NewDisposeScope();
        var meanShift = _sum! / Count;
        var cov = (_outer! - meanShift.outer(meanShift) * Count) / (Count - 1);
        return new FeatureStatistics(_shift! + meanShift, cov, Count);
    }

    public void Dispose()
    {
        _shift?.Dispose();
        _sum?.Dispose();
        _outer?.Dispose();
    }
}
