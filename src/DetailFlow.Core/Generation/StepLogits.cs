using TorchSharp;
using static TorchSharp.torch;

namespace DetailFlow.Core.Generation;

/// <summary>
/// Optional record of the logits each code of one request was drawn from (the fixtures' <c>step_logits_*</c>):
/// <see cref="Guided"/> (after CFG), <see cref="Cond"/> and <see cref="Uncond"/> (zeros when guidance is off), each
/// [N, V] float32, row k = code k. Owned; dispose it.
/// </summary>
public sealed class StepLogits : IDisposable
{
    public StepLogits(int codeCount, long vocab)
    {
        Guided = torch.zeros(codeCount, vocab).DetachFromDisposeScope();
        Cond = torch.zeros(codeCount, vocab).DetachFromDisposeScope();
        Uncond = torch.zeros(codeCount, vocab).DetachFromDisposeScope();
    }

    public Tensor Guided { get; }
    public Tensor Cond { get; }
    public Tensor Uncond { get; }

    /// <summary>Stores [n, V] logits for codes firstCode..firstCode+n−1.</summary>
    internal void Record(int firstCode, Tensor guided, Tensor cond, Tensor? uncond)
    {
        using var noGrad = torch.no_grad();
        long n = guided.shape[0];
        Guided.narrow(0, firstCode, n).copy_(guided);
        Cond.narrow(0, firstCode, n).copy_(cond);
        if (uncond is not null) Uncond.narrow(0, firstCode, n).copy_(uncond);
    }

    public void Dispose()
    {
        Guided.Dispose();
        Cond.Dispose();
        Uncond.Dispose();
    }
}
