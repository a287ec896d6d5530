using DetailFlow.Core.Runtime;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace DetailFlow.Core.Tests.Runtime;

/// <summary>
/// Packed weights (oneDNN's blocked layout, reached through a script module built in memory) give the plain product,
/// replace the plain weights instead of adding to them, and apply only to bf16/fp16 on a CPU.
/// </summary>
public class PackedLinearTests
{
    [Fact]
    public void TheScriptModule_LoadsOnThisLibtorch() => Assert.True(PackedLinear.Available(CPU));

    [Theory]
    [InlineData(true, new long[] { 5, 96 })]
    [InlineData(false, new long[] { 5, 96 })]
    [InlineData(true, new long[] { 2, 3, 96 })]
    [InlineData(false, new long[] { 1, 40, 96 })]
    public void Forward_WithThePackedWeight_GivesThePlainProduct(bool bias, long[] inputShape)
    {
        using var noGrad = torch.no_grad();
        using var scope = torch.NewDisposeScope();
        var (layer, x) = Bf16LayerAndInput(3, bias, inputShape);
        var plain = layer.forward(x).to(ScalarType.Float32);
        Assert.Equal(1, PackedLinear.Pack(nn.Sequential(("layer", layer)), 16));

        AssertBf16Close(PackedLinear.Forward(layer, x), plain, "packed − plain");
    }

    [Theory]
    [InlineData(true, new long[] { 5, 96 })]
    [InlineData(false, new long[] { 2, 3, 96 })]
    public void ForwardGeluTanh_GivesGeluOfTheProduct_FusedWhereTheWeightIsPacked(bool bias, long[] inputShape)
    {
        using var noGrad = torch.no_grad();
        using var scope = torch.NewDisposeScope();
        var (layer, x) = Bf16LayerAndInput(5, bias, inputShape);
        var exact = nn.functional.gelu(nn.functional.linear(x.to(ScalarType.Float32), layer.weight!.to(ScalarType.Float32),
            layer.bias?.to(ScalarType.Float32)), GELU.Approximate.tanh);
        Assert.Equal(0, (PackedLinear.ForwardGeluTanh(layer, x) - nn.functional.gelu(layer.forward(x), GELU.Approximate.tanh))
            .abs().max().item<BFloat16>().ToSingle());                                    // plain: the layer, then libtorch's GELU
        PackedLinear.Pack(nn.Sequential(("layer", layer)), 16);

        AssertBf16Close(PackedLinear.ForwardGeluTanh(layer, x), exact, "fused − gelu(x·wᵀ)");
    }

    /// <summary>A bf16 [96 → 80] layer and a bf16 input of <paramref name="inputShape"/>, drawn after seeding with <paramref name="seed"/>.</summary>
    private static (Linear Layer, Tensor X) Bf16LayerAndInput(long seed, bool bias, long[] inputShape)
    {
        torch.manual_seed(seed);
        var layer = nn.Linear(96, 80, hasBias: bias, dtype: ScalarType.BFloat16);
        return (layer, torch.randn(inputShape).to(ScalarType.BFloat16));
    }

    /// <summary><paramref name="actual"/> is bf16, shaped as <paramref name="expected"/> (float32) and within 1 % of its largest magnitude.</summary>
    private static void AssertBf16Close(Tensor actual, Tensor expected, string what)
    {
        Assert.Equal(expected.shape, actual.shape);
        Assert.Equal(ScalarType.BFloat16, actual.dtype);
        double scale = expected.abs().max().item<float>();
        double diff = (actual.to(ScalarType.Float32) - expected).abs().max().item<float>();
        Assert.True(diff <= 0.01 * scale, $"max |{what}| {diff} vs max |expected| {scale}");
    }

    [Fact]
    public void Warm_CompilesTheGeluEpilogue_OfMarkedLayersAsAShapeOfItsOwn()
    {
        using var noGrad = torch.no_grad();
        var marked = PackedLinear.WithGeluTanh(nn.Linear(32, 48, dtype: ScalarType.BFloat16));
        using var model = nn.Sequential(("marked", marked), ("plain", nn.Linear(32, 48, dtype: ScalarType.BFloat16)));
        Assert.True(PackedLinear.HasGeluTanh(marked));
        Assert.Equal(2, PackedLinear.Pack(model, 8));
        Assert.Equal(2 * 3, GemmRows.Warm(model, [1, 3, 5]));                             // same shape, two kernels, at 3 buckets
    }

    [Fact]
    public void Pack_ReplacesEachWeightOnce_KeepingShapeAndDType()
    {
        using var noGrad = torch.no_grad();
        var first = nn.Linear(32, 48, dtype: ScalarType.BFloat16);
        var second = nn.Linear(48, 32, hasBias: false, dtype: ScalarType.BFloat16);
        using var model = nn.Sequential(("first", first), ("second", second));
        var plainWeight = first.weight!;

        Assert.Equal(2, PackedLinear.Pack(model, 8));
        Assert.True(PackedLinear.IsPacked(first) && PackedLinear.IsPacked(second));
        Assert.NotSame(plainWeight, first.weight);
        Assert.Equal(new long[] { 48, 32 }, first.weight!.shape);
        Assert.Equal(ScalarType.BFloat16, second.weight!.dtype);
        Assert.True(plainWeight.IsInvalid);                                               // the plain copy is freed, not kept beside
        Assert.Equal(0, PackedLinear.Pack(model, 8));                                     // already packed
        Assert.Equal(2 * 2, GemmRows.Warm(model, [3, 5]));                                // warmed through the packed products
    }

    [Fact]
    public void Forward_ResultBelongsToTheCallersDisposeScope()
    {
        using var noGrad = torch.no_grad();
        var layer = nn.Linear(16, 8, dtype: ScalarType.BFloat16);
        using var model = nn.Sequential(("layer", layer));
        PackedLinear.Pack(model, 4);
        Tensor y;
        using (torch.NewDisposeScope()) y = PackedLinear.Forward(layer, torch.ones(2, 16, dtype: ScalarType.BFloat16));
        Assert.True(y.IsInvalid);                                                         // freed with the step, not left to the GC
    }

    [Theory]
    [InlineData(ScalarType.Float32)]
    public void Pack_LeavesFullPrecisionWeightsPlain(ScalarType dtype)
    {
        using var model = nn.Sequential(("layer", nn.Linear(16, 16, dtype: dtype)));
        Assert.Equal(0, PackedLinear.Pack(model, 8));
        Assert.False(PackedLinear.IsPacked((Linear)model.children().Single()));
    }

    private static readonly ProbeWorkload s_workload = new("a small model",
        [new GemmShape(16, 256, 768, 2), new GemmShape(16, 256, 256, 2)], [new GemmShape(128, 256, 768, 2), new GemmShape(128, 256, 256, 2)]);

    [Fact]
    public void Probe_Auto_TimesBothLayoutsAtTheWorkloadsShapes()
    {
        var choice = PackingProbe.Choose(WeightLayout.Auto, s_workload, ScalarType.BFloat16, CPU, TimeSpan.FromMilliseconds(200));
        Assert.True(choice.PlainSingle > 0 && choice.PackedSingle > 0 && choice.PlainSaturated > 0 && choice.PackedSaturated > 0, choice.Describe());
        double score = (choice.PackedSingle / choice.PlainSingle + choice.PackedSaturated / choice.PlainSaturated) / 2;
        Assert.Equal(score < 1, choice.Pack);
        Assert.Contains("at one request", choice.Describe());
    }

    [Theory]
    [InlineData(WeightLayout.Packed, ScalarType.BFloat16, true)]
    [InlineData(WeightLayout.Plain, ScalarType.BFloat16, false)]
    [InlineData(WeightLayout.Packed, ScalarType.Float32, false)]
    [InlineData(WeightLayout.Auto, ScalarType.Float32, false)]
    public void Probe_FixedLayoutsAreKept_AndFullPrecisionIsNeverPacked(WeightLayout layout, ScalarType dtype, bool packed)
    {
        var choice = PackingProbe.Choose(layout, s_workload, dtype, CPU, TimeSpan.FromMilliseconds(200));
        Assert.Equal(packed, choice.Pack);
        Assert.Equal(0, choice.PlainSingle);                                              // nothing timed
    }
}
