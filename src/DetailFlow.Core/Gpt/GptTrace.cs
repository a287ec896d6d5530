using static TorchSharp.torch;

namespace DetailFlow.Core.Gpt;

/// <summary>
/// Intermediate tensors of one <see cref="GptTransformer.Forward"/> (the fixtures' debug tensors): the embeddings
/// entering layer 0, each layer's output and the final norm's output. They live in the caller's dispose scope.
/// </summary>
public sealed class GptTrace
{
    public Tensor? Input { get; internal set; }
    public List<Tensor> LayerOutputs { get; } = [];
    public Tensor? FinalNorm { get; internal set; }
}
