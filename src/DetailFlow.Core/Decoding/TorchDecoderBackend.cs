using DetailFlow.Core.Tokenizer;
using TorchSharp;
using static TorchSharp.torch;

namespace DetailFlow.Core.Decoding;

/// <summary>The TorchSharp decoder: <see cref="VqModel.Decode(Tensor, IReadOnlyList{int}, int)"/>, result as float32 on the CPU.</summary>
public sealed class TorchDecoderBackend(VqModel model) : IDecoderBackend
{
    private readonly VqModel _model = model ?? throw new ArgumentNullException(nameof(model));

    public string Name => "torch";
    public int NumLatentTokens => _model.NumLatentTokens;
    public int PatchSize => _model.decoder.PatchSize;

    public Tensor Decode(Tensor codes, IReadOnlyList<int> prefixLengths, int imageSize)
    {
        using var noGrad = torch.no_grad();
        using var scope = NewDisposeScope();
        return _model.Decode(codes, prefixLengths, imageSize).to(float32).cpu().MoveToOuterDisposeScope();
    }

    /// <summary>The model is the caller's: nothing to release.</summary>
    public void Dispose() { }
}
