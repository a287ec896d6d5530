using DetailFlow.Core.Runtime;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace DetailFlow.Core.Tokenizer;

/// <summary>
/// SigLIP2 multi-head self-attention (spec §2.2): separate q/k/v/out Linear(D→D) projections with bias, scores
/// q·kᵀ·(D/H)^−0.5 plus an optional additive mask, softmax over keys. Field names are the HF keys.
/// </summary>
public sealed class SiglipAttention : nn.Module
{
    public readonly Linear q_proj;
    public readonly Linear k_proj;
    public readonly Linear v_proj;
    public readonly Linear out_proj;

    public SiglipAttention(VitConfig config) : base(nameof(SiglipAttention))
    {
        HiddenSize = config.HiddenSize;
        NumHeads = config.NumAttentionHeads;
        if (HiddenSize % NumHeads != 0)
            throw new ArgumentException($"hidden size {HiddenSize} is not divisible by {NumHeads} heads", nameof(config));
        q_proj = nn.Linear(HiddenSize, HiddenSize);
        k_proj = nn.Linear(HiddenSize, HiddenSize);
        v_proj = nn.Linear(HiddenSize, HiddenSize);
        out_proj = nn.Linear(HiddenSize, HiddenSize);
        RegisterComponents();
    }

    public int HiddenSize { get; }
    public int NumHeads { get; }

    /// <param name="hiddenStates">[B, L, D].</param>
    /// <param name="additiveMask">[L, L] (or broadcastable to [B, H, L, L]) added to the scores; null = full attention.</param>
    /// <param name="headwise">Where given and no mask is, full attention head by head into its kept scores.</param>
    public Tensor Forward(Tensor hiddenStates, Tensor? additiveMask, HeadwiseAttention? headwise = null)
    {
        using var scope = NewDisposeScope();
        if (headwise is not null && additiveMask is null)
        {
            var attendedHeads = headwise.Attend(GemmRows.Linear(q_proj, hiddenStates), GemmRows.Linear(k_proj, hiddenStates),
                GemmRows.Linear(v_proj, hiddenStates), NumHeads); // [B, L, D], heads merged
            return GemmRows.Linear(out_proj, attendedHeads).MoveToOuterDisposeScope();
        }
        long b = hiddenStates.shape[0], l = hiddenStates.shape[1];
        long headDim = HiddenSize / NumHeads;
        Tensor Heads(Linear proj) => GemmRows.Linear(proj, hiddenStates).view(b, l, NumHeads, headDim).transpose(1, 2); // [B, H, L, D/H]
        // SDPA's default scale is 1/√(D/H), the SigLIP2 scale.
        var attended = F.scaled_dot_product_attention(Heads(q_proj), Heads(k_proj), Heads(v_proj), additiveMask); // [B, H, L, D/H]
        var merged = attended.transpose(1, 2).reshape(b, l, HiddenSize); // [B, L, D]
        return GemmRows.Linear(out_proj, merged).MoveToOuterDisposeScope();
    }
}
