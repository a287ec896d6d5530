namespace DetailFlow.Core.Generation;

/// <summary>
/// What the engine's forwards have cost on this machine, by the positions they fed (a moving average of positions and
/// seconds per power-of-two bucket), to bound what a forward of some other size would cost and so whether a step is
/// worth splitting (<see cref="NextDetailEngine"/>'s eager rows). A forward costs no less for more positions and no more
/// per position (its products only get more efficient with more rows), so a measured forward of p positions in t seconds
/// bounds one of P positions: at least t if P ≥ p, else t·P/p; at most t if P ≤ p, else t·P/p.
/// </summary>
internal sealed class StepCosts
{
    private const double Smoothing = 0.3;
    private readonly (double Positions, double Seconds)[] _buckets = new (double, double)[31];   // (0, 0) = not measured yet

    public void Record(int positions, double seconds)
    {
        if (positions <= 0 || seconds <= 0) return;
        ref var b = ref _buckets[Bucket(positions)];
        b = b.Seconds == 0
            ? (positions, seconds)
            : (b.Positions + Smoothing * (positions - b.Positions), b.Seconds + Smoothing * (seconds - b.Seconds));
    }

    /// <summary>
    /// Whether a forward of <paramref name="whole"/> positions is known to cost at least <paramref name="ratio"/> times one
    /// of <paramref name="part"/>: its lower bound against the part's upper bound. Nothing measured: no. A ratio of 0 or
    /// less: always.
    /// </summary>
    public bool Exceeds(int whole, int part, double ratio)
    {
        if (ratio <= 0) return true;
        double atLeast = 0, atMost = double.PositiveInfinity;
        foreach (var (p, t) in _buckets)
        {
            if (t == 0) continue;
            atLeast = Math.Max(atLeast, whole >= p ? t : t * whole / p);
            atMost = Math.Min(atMost, part <= p ? t : t * part / p);
        }
        return atLeast > 0 && atLeast >= ratio * atMost;
    }

    private static int Bucket(int positions) => Math.Min(30, System.Numerics.BitOperations.Log2((uint)positions));
}
