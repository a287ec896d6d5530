using DetailFlow.Core.Imaging;

namespace DetailFlow.Cli.Commands;

/// <summary>Tiles equally sized RGB images into rows × columns with a 2-pixel grey gutter.</summary>
internal static class ImageGrid
{
    private const int Gutter = 2;
    private const byte GutterGrey = 128;

    public static RgbImage Compose(IReadOnlyList<IReadOnlyList<RgbImage>> rows)
    {
        if (rows.Count == 0 || rows[0].Count == 0) throw new ArgumentException("a grid needs at least one image", nameof(rows));
        int w = rows[0][0].Width, h = rows[0][0].Height, cols = rows.Max(r => r.Count);
        if (rows.SelectMany(r => r).Any(i => i.Width != w || i.Height != h))
            throw new ArgumentException($"grid images must all be {w}×{h}", nameof(rows));
        int width = cols * w + (cols + 1) * Gutter, height = rows.Count * h + (rows.Count + 1) * Gutter;
        var pixels = new byte[3 * width * height];
        Array.Fill(pixels, GutterGrey);
        for (int r = 0; r < rows.Count; r++)
        for (int c = 0; c < rows[r].Count; c++)
        {
            int x0 = Gutter + c * (w + Gutter), y0 = Gutter + r * (h + Gutter);
            for (int y = 0; y < h; y++)
                Array.Copy(rows[r][c].Pixels, 3 * y * w, pixels, 3 * ((y0 + y) * width + x0), 3 * w);
        }
        return new RgbImage(width, height, pixels);
    }
}
