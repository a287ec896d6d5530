using DetailFlow.Core.Onnx;

namespace DetailFlow.Core.Decoding;

/// <summary>
/// ONNX Runtime session settings for <see cref="OnnxDecoderBackend"/>, tuned for a small shared CPU: intra-op threads
/// from the configuration (the machine's cores by default), one inter-op thread, sequential execution, graph
/// optimisation level ALL, and no spin-waiting of idle pool threads (they would steal the cores libtorch needs next;
/// the same reason the service sets OMP_WAIT_POLICY=PASSIVE). <see cref="Cuda"/> appends the CUDA execution provider
/// (needs the <c>-p:TorchBackend=cuda</c> build, which references Microsoft.ML.OnnxRuntime.Gpu).
/// </summary>
public sealed record OnnxDecoderSettings
{
    /// <summary>Intra-op threads; 0 = ONNX Runtime's default (one per physical core).</summary>
    public int IntraOpThreads { get; init; } = Math.Max(1, Environment.ProcessorCount);

    /// <summary>Let idle intra-op threads spin (lower latency, burns the cores between calls).</summary>
    public bool AllowSpinning { get; init; }

    /// <summary>Run on the CUDA execution provider.</summary>
    public bool Cuda { get; init; }

    public int CudaDeviceId { get; init; }

    /// <summary>
    /// One graph per patch grid (position table folded in) instead of one graph with the table as an input. Kept for
    /// measurement (<c>bench decode --backends onnx-per-grid</c>): the backend then holds one session, for the last
    /// grid, and re-exports on every grid change; each session holds its own copy of the weights.
    /// </summary>
    public bool PerGridGraphs { get; init; }

    /// <summary>How the graph is exported when the backend exports it in memory.</summary>
    public DecoderOnnxOptions Export { get; init; } = new();

    public void Validate()
    {
        if (IntraOpThreads < 0) throw new ArgumentOutOfRangeException(nameof(IntraOpThreads), IntraOpThreads, "intra-op threads must be ≥ 0 (0 = ONNX Runtime's default)");
        if (CudaDeviceId < 0) throw new ArgumentOutOfRangeException(nameof(CudaDeviceId), CudaDeviceId, "CUDA device id must be ≥ 0");
    }
}
