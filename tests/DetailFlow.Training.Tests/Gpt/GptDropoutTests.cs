using DetailFlow.Core.Gpt;
using DetailFlow.Training.Optim;
using TorchSharp;
using static TorchSharp.torch;

namespace DetailFlow.Training.Tests.Gpt;

public class GptDropoutTests
{
    private static readonly Tensor Codes = torch.tensor(new long[] { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 }, [1, 12]).DetachFromDisposeScope();
    private static readonly Tensor Classes = torch.tensor(new long[] { 1 }, [1]).DetachFromDisposeScope();

    [Fact]
    public void NewModel_StartsInEvalMode_WithDropoutsAsIdentities()
    {
        torch.manual_seed(0);
        using var model = new GptTransformer(GptTrainerTests.Tiny);
        Assert.False(model.training);
        using var scope = NewDisposeScope();
        using var noGrad = torch.no_grad();
        torch.manual_seed(1);
        var a = model.Forward(Codes, Classes);
        torch.manual_seed(2);
        var b = model.Forward(Codes, Classes);
        Assert.Equal(0f, (a - b).abs().max().item<float>());
    }

    [Fact]
    public void TrainMode_AppliesDropout_AndClassDropoutUsesTheNullClass()
    {
        torch.manual_seed(0);
        using var model = new GptTransformer(GptTrainerTests.Tiny with { ClassDropoutProb = 0.1 });
        using var scope = NewDisposeScope();
        using var noGrad = torch.no_grad();
        model.train();
        torch.manual_seed(1);
        var a = model.Forward(Codes, Classes);
        torch.manual_seed(2);
        var b = model.Forward(Codes, Classes);
        Assert.True((a - b).abs().max().item<float>() > 0);

        // Label dropout: over many draws about 10 % of the labels become the null class row.
        var labels = torch.full(4000, 2L, dtype: ScalarType.Int64);
        var embedded = model.cls_embedding.forward(labels);                 // [4000, D]
        var nullRow = model.cls_embedding.embedding_table.weight![GptTrainerTests.Tiny.NumClasses];
        double dropped = embedded.sub(nullRow).abs().sum(1).eq(0).to(ScalarType.Float32).mean().item<float>();
        Assert.InRange(dropped, 0.07, 0.13);
        model.eval();
        Assert.Equal(0f, model.cls_embedding.forward(labels).sub(model.cls_embedding.embedding_table.weight![2]).abs().max().item<float>());
    }

    [Fact]
    public void AdamW_ForModule_DecaysOnlyTensorsWithTwoOrMoreDims()
    {
        using var model = new GptTransformer(GptTrainerTests.Tiny);
        using var optimizer = AdamW.ForModule(model, 0.05, 0.9, 0.95);
        Assert.All(optimizer.Parameters, p => Assert.Equal(p.Param.dim() >= 2 ? 0.05 : 0.0, p.WeightDecay));
        Assert.Contains(optimizer.Parameters, p => p.Name == "norm.weight" && p.WeightDecay == 0);
        Assert.Contains(optimizer.Parameters, p => p.Name == "tok_embeddings.weight" && p.WeightDecay == 0.05);
    }
}
