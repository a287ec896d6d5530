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

    public void Validate()
    {
        if (IntraOpThreads < 0) throw new ArgumentOutOfRangeException(nameof(IntraOpThreads), IntraOpThreads, "intra-op threads must be ≥ 0 (0 = ONNX Runtime's default)");
        if (CudaDeviceId < 0) throw new ArgumentOutOfRangeException(nameof(CudaDeviceId), CudaDeviceId, "CUDA device id must be ≥ 0");
    }
}
