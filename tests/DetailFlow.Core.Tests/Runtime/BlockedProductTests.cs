using System.Runtime.InteropServices;
using DetailFlow.Core.Runtime;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace DetailFlow.Core.Tests.Runtime;

/// <summary>
/// Few-row products in C# on oneDNN's packed bf16 weights: the layout they read is the one packing writes, their results
/// are oneDNN's to within one bf16 rounding at every row count (the four-row, two-row and odd-row paths), they run only
/// where allowed, and a weight whose memory is not in that layout is not read.
/// </summary>
public class BlockedProductTests
{
    [Fact]
    public unsafe void Pack_WritesTheLayoutTheKernelReads()
    {
        using var noGrad = torch.no_grad();
        using var scope = torch.NewDisposeScope();
        var (layer, model) = Bf16Layer(192, 96, seed: 1);
        var plain = layer.weight!.to(ScalarType.Float32);                                     // kept before packing frees it
        Assert.Equal(1, PackedLinear.Pack(model, 16));

        var view = PackedLinear.HostView(layer);
        Assert.NotNull(view);
        Assert.Equal((192, 96), (view.Outputs, view.Inputs));
        var bits = (ushort*)view.Address;
        var values = plain.data<float>().ToArray();
        for (int n = 0; n < 192; n++)
            for (int k = 0; k < 96; k++)
                Assert.Equal(HostVectors.ToBFloat16(values[n * 96 + k]), bits[BlockedProduct.Offset(n, k, 96)]);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(5)]
    [InlineData(7)]
    [InlineData(8)]
    [InlineData(9)]
    public void Forward_InCSharp_IsOneDnnsProduct_WithinOneRounding(int rows)
    {
        using var noGrad = torch.no_grad();
        using var scope = torch.NewDisposeScope();
        var (layer, model) = Bf16Layer(320, 1024, seed: rows);
        PackedLinear.Pack(model, 16);
        var x = torch.randn(rows, 1024).to(ScalarType.BFloat16);
        PackedLinear.SetHostRows(model, 0);
        var oneDnn = PackedLinear.Forward(layer, x).to(ScalarType.Float32);
        var host = BlockedProduct.Forward(PackedLinear.HostView(layer)!, x);

        Assert.Equal(ScalarType.BFloat16, host.dtype);
        Assert.Equal(new long[] { rows, 320 }, host.shape);
        var diff = (host.to(ScalarType.Float32) - oneDnn).abs();
        var oneUlp = oneDnn.abs() * (1.0 / 128) + 1e-6;                                       // bf16 keeps 8 significant bits
        Assert.True((diff <= oneUlp).all().item<bool>(), $"largest difference {diff.max().item<float>()}");
        Assert.True((diff == 0).to(ScalarType.Float32).mean().item<float>() >= 0.99, "most elements should be identical");
    }

    [Fact]
    public void Forward_KeepsTheLeadingDimensions()
    {
        using var noGrad = torch.no_grad();
        using var scope = torch.NewDisposeScope();
        var (layer, model) = Bf16Layer(64, 32, seed: 3);
        PackedLinear.Pack(model, 16);
        var x = torch.randn(1, 3, 32).to(ScalarType.BFloat16);
        PackedLinear.SetHostRows(model, 0);
        var expected = PackedLinear.Forward(layer, x).to(ScalarType.Float32);
        PackedLinear.SetHostRows(model, 4);

        var y = PackedLinear.Forward(layer, x);
        Assert.Equal(new long[] { 1, 3, 64 }, y.shape);
        Assert.True((y.to(ScalarType.Float32) - expected).abs().max().item<float>() <= expected.abs().max().item<float>() / 128);
    }

    [Fact]
    public void Takes_OnlyBf16RowsWithinTheLimit_WithoutAutograd()
    {
        using var scope = torch.NewDisposeScope();
        var (layer, model) = Bf16Layer(64, 32, seed: 4);
        using (torch.no_grad()) PackedLinear.Pack(model, 16);
        var view = PackedLinear.HostView(layer)!;
        Assert.Equal(0, view.HostRows);                                                      // off until a probe or the configuration sets it
        Assert.Equal(1, PackedLinear.SetHostRows(model, 4));
        using (torch.no_grad())
        {
            Assert.True(BlockedProduct.Takes(view, torch.zeros(4, 32, dtype: ScalarType.BFloat16)));
            Assert.True(BlockedProduct.Takes(view, torch.zeros(2, 2, 32, dtype: ScalarType.BFloat16)));
            Assert.False(BlockedProduct.Takes(view, torch.zeros(5, 32, dtype: ScalarType.BFloat16)));   // beyond the limit
            Assert.False(BlockedProduct.Takes(view, torch.zeros(4, 32)));                                // float32
            Assert.False(BlockedProduct.Takes(view, torch.zeros(4, 16, dtype: ScalarType.BFloat16)));   // another K
        }
        Assert.False(BlockedProduct.Takes(view, torch.zeros(4, 32, dtype: ScalarType.BFloat16)));       // autograd on
        using (torch.no_grad())
        {
            Assert.Throws<ArgumentException>(() => BlockedProduct.Forward(view, torch.zeros(4, 16, dtype: ScalarType.BFloat16)));
            Assert.Throws<ArgumentException>(() => BlockedProduct.Forward(view, torch.zeros(4, 32)));
        }
    }

    [Fact]
    public void Read_RefusesMemoryNotInTheLayout()
    {
        using var noGrad = torch.no_grad();
        using var scope = torch.NewDisposeScope();
        torch.manual_seed(5);
        var plain = torch.randn(128, 64).to(ScalarType.BFloat16);
        unsafe
        {
            nint rowMajor = (nint)TensorMemory.Address(plain);
            Assert.Null(BlockedProduct.Read(plain, rowMajor, 128 * 64 * 2));                 // the plain weight itself: row-major
            Assert.Null(BlockedProduct.Read(plain, rowMajor, 128 * 64 * 2 + 64));            // not its size
            Assert.Null(BlockedProduct.Read(plain.narrow(0, 0, 96), rowMajor, 96 * 64 * 2)); // N not a multiple of 64
            Assert.Null(BlockedProduct.Read(plain.view(256, 32).narrow(1, 0, 24), rowMajor, 256 * 24 * 2));   // K not a multiple of 16
        }
        var blocked = torch.empty(128 * 64, ScalarType.BFloat16);
        unsafe
        {
            var target = (ushort*)TensorMemory.Address(blocked);
            var source = MemoryMarshal.Cast<BFloat16, ushort>(plain.data<BFloat16>().ToArray()).ToArray();
            for (int n = 0; n < 128; n++)
                for (int k = 0; k < 64; k++)
                    target[BlockedProduct.Offset(n, k, 64)] = source[n * 64 + k];
            Assert.NotNull(BlockedProduct.Read(plain, (nint)target, 128 * 64 * 2));          // the same values, laid out: read
        }
    }

    [Fact]
    public void Probe_ConfiguredRows_AreSetOnEveryReadableLayer_AndUnpackedModelsRunOneDnn()
    {
        using var noGrad = torch.no_grad();
        var (_, model) = Bf16Layer(64, 32, seed: 6);
        Assert.Equal("onednn", BlockedProductProbe.Choose(model, null, 16, TimeSpan.FromMilliseconds(50)).Summary);   // nothing packed yet
        PackedLinear.Pack(model, 16);

        var choice = BlockedProductProbe.Choose(model, 3, 16, TimeSpan.FromMilliseconds(50));
        Assert.Equal("C# up to 3 rows", choice.Summary);
        Assert.Equal(3, PackedLinear.HostView((Linear)model.children().Single())!.HostRows);
    }

    [Fact]
    public void Probe_Auto_TimesBothWays_AndRunsCSharpOnlyUpToTheLastCountItWon()
    {
        using var noGrad = torch.no_grad();
        var (layer, model) = Bf16Layer(1024, 1024, seed: 7);
        PackedLinear.Pack(model, 16);

        var choice = BlockedProductProbe.Choose(model, null, 8, TimeSpan.FromMilliseconds(300));
        Assert.NotEmpty(choice.Timings);
        Assert.All(choice.Timings, t => Assert.True(t.OneDnn > 0 && t.Host > 0, choice.Describe()));
        int won = choice.Timings.TakeWhile(t => t.Host < t.OneDnn).Select(t => t.Rows).DefaultIfEmpty(0).Max();
        Assert.Equal(won, choice.Rows);
        Assert.Equal(won, PackedLinear.HostView(layer)!.HostRows);
        Assert.Contains("vs oneDNN", choice.Describe());
    }

    private static (Linear Layer, Sequential Model) Bf16Layer(long outputs, long inputs, long seed)
    {
        torch.manual_seed(seed);
        var layer = nn.Linear(inputs, outputs, hasBias: false, dtype: ScalarType.BFloat16);
        return (layer, nn.Sequential(("layer", layer)));
    }
}
