using DetailFlow.Core.Gpt;
using TorchSharp;
using static TorchSharp.torch;

namespace DetailFlow.Core.Tests.Gpt;

public class Rotary2DTests
{
    [Fact]
    public void Rotary2D_ClassRowIsAllZeros()
    {
        using var table = Rotary2D.Build(4, 4, 16, 10000, 1);
        Assert.Equal([17L, 8, 2], table.shape);
        Assert.Equal(0f, table[0].abs().sum().item<float>());
    }

    [Fact]
    public void Rotary2D_RowIsTheGridCellOffsetByTheClassToken()
    {
        // head dim 16 → 8 pairs: pairs 0..3 rotate with the row, 4..7 with the column; f_k = 10000^(−k/4).
        using var table = Rotary2D.Build(4, 4, 16, 10000, 1);
        var t = table.data<float>().ToArray();
        float At(int p, int pair, int c) => t[(p * 8 + pair) * 2 + c];
        // p = 1 → cell (0, 0): identity rotation everywhere.
        for (int pair = 0; pair < 8; pair++) { Assert.Equal(1f, At(1, pair, 0)); Assert.Equal(0f, At(1, pair, 1)); }
        // p = 7 → q = 6 → cell (row 1, col 2).
        Assert.Equal(Math.Cos(1.0), At(7, 0, 0), 6);
        Assert.Equal(Math.Sin(1.0), At(7, 0, 1), 6);
        Assert.Equal(Math.Cos(1.0 * Math.Pow(10000, -1.0 / 4)), At(7, 1, 0), 6);
        Assert.Equal(Math.Cos(2.0), At(7, 4, 0), 6);
        Assert.Equal(Math.Sin(2.0 * Math.Pow(10000, -3.0 / 4)), At(7, 7, 1), 6);
    }

    [Fact]
    public void Apply_RotatesInterleavedPairs()
    {
        using var scope = torch.NewDisposeScope();
        var x = torch.tensor(new float[] { 1, 2, 3, 4 }, [1, 1, 1, 4]);              // [B, L, H, hd]
        double a = 0.3, b = -1.1;
        var rows = torch.tensor(new float[] { (float)Math.Cos(a), (float)Math.Sin(a), (float)Math.Cos(b), (float)Math.Sin(b) }, [1, 1, 2, 2]);
        var y = Rotary2D.Apply(x, rows).data<float>().ToArray();
        Assert.Equal(1 * Math.Cos(a) - 2 * Math.Sin(a), y[0], 5);
        Assert.Equal(2 * Math.Cos(a) + 1 * Math.Sin(a), y[1], 5);
        Assert.Equal(3 * Math.Cos(b) - 4 * Math.Sin(b), y[2], 5);
        Assert.Equal(4 * Math.Cos(b) + 3 * Math.Sin(b), y[3], 5);
    }

    [Fact]
    public void Apply_ClassRowZeroesTheVector()
    {
        using var scope = torch.NewDisposeScope();
        var table = Rotary2D.Build(2, 4, 8, 10000, 1);
        var x = torch.randn(2, 3, 2, 8);
        var rows = table.narrow(0, 0, 3).unsqueeze(0);                             // positions 0..2
        var y = Rotary2D.Apply(x, rows);
        Assert.Equal(0f, y[.., 0].abs().sum().item<float>());
        Assert.True(y[.., 1].allclose(x[.., 1]));                                   // cell (0,0) = identity
    }
}
