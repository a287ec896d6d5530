namespace DetailFlow.Core.Generation;

/// <summary>When a <see cref="NextDetailEngine"/> step with blocks of different lengths runs packed.</summary>
public enum MixedStepPacking
{
    /// <summary>When the padding's arithmetic outweighs the packing's gathers (<see cref="NextDetailEngine.MinPackedSavingFlops"/>).</summary>
    Auto,
    /// <summary>Every mixed step.</summary>
    Always,
    /// <summary>Never: every step on the padded grid.</summary>
    Never,
}
