namespace DetailFlow.Core.Runtime;

/// <summary>How linear weights are stored for inference (<see cref="PackedLinear"/>).</summary>
public enum WeightLayout
{
    /// <summary>Timed at load both ways at the model's shapes (<see cref="PackingProbe"/>); the faster one is kept.</summary>
    Auto,

    /// <summary>Row-major, as loaded.</summary>
    Plain,

    /// <summary>oneDNN's blocked layout, where libtorch provides it (bf16/fp16 on a CPU); plain elsewhere.</summary>
    Packed,
}
