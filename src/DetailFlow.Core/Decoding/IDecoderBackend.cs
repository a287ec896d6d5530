using static TorchSharp.torch;

namespace DetailFlow.Core.Decoding;

/// <summary>
/// Runs the tokenizer decode path (codes → pixels). Implementations: <see cref="TorchDecoderBackend"/> (TorchSharp
/// modules) and <see cref="OnnxDecoderBackend"/> (the exported graph on ONNX Runtime). Both take calls from several
/// threads at once (the service decodes on its decode thread and its inference thread); a backend does not own the
/// <see cref="Tokenizer.VqModel"/> it was built from.
/// </summary>
public interface IDecoderBackend : IDisposable
{
    /// <summary>"torch" or "onnx".</summary>
    string Name { get; }

    /// <summary>N: the most latents a prefix may use.</summary>
    int NumLatentTokens { get; }

    /// <summary>Decoder patch size: image sizes are positive multiples of it.</summary>
    int PatchSize { get; }

    /// <summary>
    /// Codes int64 [B, t'] (rows padded past their prefix with any valid code) → float32 CPU pixels [B, 3, s, s],
    /// nominal range [−1, 1]; row b decodes its first <c>prefixLengths[b]</c> codes. The caller owns the result.
    /// </summary>
    Tensor Decode(Tensor codes, IReadOnlyList<int> prefixLengths, int imageSize);
}

public static class DecoderBackendExtensions
{
    /// <summary>Every row decodes its first <paramref name="t"/> codes.</summary>
    public static Tensor Decode(this IDecoderBackend backend, Tensor codes, int t, int imageSize)
    {
        ArgumentNullException.ThrowIfNull(backend);
        ArgumentNullException.ThrowIfNull(codes);
        if (codes.dim() != 2) throw new ArgumentException($"codes must be [B, t'], got [{string.Join(", ", codes.shape)}]", nameof(codes));
        return backend.Decode(codes, Enumerable.Repeat(t, (int)codes.shape[0]).ToArray(), imageSize);
    }
}
