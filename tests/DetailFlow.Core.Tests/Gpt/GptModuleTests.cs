using DetailFlow.Core.Checkpoints;
using DetailFlow.Core.Gpt;
using TorchSharp;
using static TorchSharp.torch;

namespace DetailFlow.Core.Tests.Gpt;

/// <summary>Each GPT piece on its own, fed the fixture's input of that piece (gpt_forward_tiny_c4 at L = 12).</summary>
public sealed class GptModuleTests : IDisposable
{
    private const double Tolerance = 1e-4;
    private const int L = 12;
    private readonly GptTransformer _model = GptTestModels.Tiny("tiny_c4");
    private readonly RawTensorFile _data = RawTensorFile.Open(TestFixtures.Case("gpt_forward_tiny_c4"));

    [Fact]
    public void Embed_PlacesClassCodesAndSpecialTokensLikeTheFixture()
    {
        using var noGrad = torch.no_grad();
        using var scope = torch.NewDisposeScope();
        var layout = _model.Layout;
        int s = layout.ExtendedLength(L);
        var codes = _data["idx_full"];
        var codeAt = torch.tensor(Enumerable.Range(0, s).Select(p => (long)Math.Max(layout.CodeAt(p), 0)).ToArray());
        var positions = torch.arange(s, dtype: int64).unsqueeze(0).expand(2, s);
        var h = _model.Embed(_data["cond_idx"], positions, codes.index_select(1, codeAt));
        AssertClose(_data[$"L{L}_h_in"], h);
    }

    [Fact]
    public void TransformerBlock_MapsLayerInputToLayerOutput()
    {
        using var noGrad = torch.no_grad();
        using var scope = torch.NewDisposeScope();
        int s = _model.Layout.ExtendedLength(L);
        var context = new AttentionContext(
            _model.RotaryRows(torch.arange(s, dtype: int64).unsqueeze(0)),
            GroupCausalMask.Build(s, _model.Config.GroupSize, _model.Config.EffectiveCausalNum));
        AssertClose(_data[$"L{L}_layer0_out"], _model.layers[0].Forward(_data[$"L{L}_h_in"], context));
        AssertClose(_data[$"L{L}_layer1_out"], _model.layers[1].Forward(_data[$"L{L}_layer0_out"], context));
    }

    [Fact]
    public void RmsNormAndOutput_MapLastLayerToLogits()
    {
        using var noGrad = torch.no_grad();
        using var scope = torch.NewDisposeScope();
        AssertClose(_data[$"L{L}_final_norm_out"], _model.norm.forward(_data[$"L{L}_layer1_out"]));
        AssertClose(_data[$"L{L}_logits"], _model.output.forward(_data[$"L{L}_final_norm_out"]));
        AssertClose(_data[$"L{L}_logits"], _model.Head(_data[$"L{L}_layer1_out"]));
    }

    [Fact]
    public void RmsNorm_NormalisesInFloat32ThenScalesByWeight()
    {
        using var noGrad = torch.no_grad();
        using var scope = torch.NewDisposeScope();
        using var norm = new RmsNorm(2, 1e-5);
        norm.weight.copy_(torch.tensor(new float[] { 2, 0.5f }));
        var y = norm.forward(torch.tensor(new float[] { 3, 4 }, [1, 2])).data<float>().ToArray();
        double rms = Math.Sqrt((9 + 16) / 2.0 + 1e-5);
        Assert.Equal(3 / rms * 2, y[0], 5);
        Assert.Equal(4 / rms * 0.5, y[1], 5);
    }

    private static void AssertClose(Tensor expected, Tensor actual)
    {
        Assert.Equal(expected.shape, actual.shape);
        double diff = (actual - expected).abs().max().item<float>();
        Assert.True(diff <= Tolerance, $"max abs diff {diff:E3} > {Tolerance:E0}");
    }

    public void Dispose()
    {
        _model.Dispose();
        _data.Dispose();
    }
}

internal static class GptTestModels
{
    public static string Dir(string tag) => TestFixtures.Set.GptDir(tag);

    public static GptConfig Config(string tag) => GptConfig.Load(Path.Combine(Dir(tag), "config.json"));

    public static GptTransformer Tiny(string tag) =>
        GptTransformer.Load(Path.Combine(Dir(tag), "checkpoint.pt"), Config(tag));
}
