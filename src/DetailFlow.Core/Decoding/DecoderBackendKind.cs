namespace DetailFlow.Core.Decoding;

/// <summary>Which <see cref="IDecoderBackend"/> decodes previews and final images.</summary>
public enum DecoderBackendKind
{
    /// <summary>TorchSharp modules (<see cref="TorchDecoderBackend"/>).</summary>
    Torch,

    /// <summary>The exported ONNX graph on ONNX Runtime (<see cref="OnnxDecoderBackend"/>).</summary>
    Onnx,
}
