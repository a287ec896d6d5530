using DetailFlow.Core.Imaging;
using SkiaSharp;

namespace DetailFlow.Training.Data;

/// <summary>
/// The official PIL-side augmentations (<c>dataset/augmentation.py</c>, <c>utils/data.py</c>; spec §9.1, §9.2) on
/// <see cref="RgbImage"/>: ADM centre and random crops (BOX halving while the short side is at least twice the target,
/// then a bicubic resize, then the crop), horizontal flip, torchvision's TenCrop, and the [−1, 1] normalisation.
/// Bicubic resizing is Skia's Catmull-Rom cubic (PIL's BICUBIC is the a = −0.5 Keys kernel, i.e. Catmull-Rom; PIL
/// additionally widens the kernel when shrinking, Skia does not — the shrink here is below 2× after the halving).
/// The 2×2 BOX halving averages exact 2×2 blocks (PIL's BOX for even sides; an odd last row/column is dropped).
/// </summary>
public static class ImageTransforms
{
    /// <summary>ADM <c>center_crop_arr</c>: short side → <paramref name="size"/>, centre crop.</summary>
    public static RgbImage CenterCropArr(RgbImage image, int size)
    {
        CheckSize(size);
        image = HalveWhileAtLeast(image, 2 * size);
        image = ScaleShortSide(image, size);
        return Crop(image, (image.Width - size) / 2, (image.Height - size) / 2, size, size);
    }

    /// <summary>
    /// ADM <c>random_crop_arr</c>: short side drawn uniformly from [⌈size/maxFrac⌉, ⌈size/minFrac⌉], then a random
    /// <paramref name="size"/>² crop (256 → short side in [256, 320]).
    /// </summary>
    public static RgbImage RandomCropArr(RgbImage image, int size, Random rng, double minCropFrac = 0.8, double maxCropFrac = 1.0)
    {
        CheckSize(size);
        ArgumentNullException.ThrowIfNull(rng);
        int lo = (int)Math.Ceiling(size / maxCropFrac), hi = (int)Math.Ceiling(size / minCropFrac);
        int shortSide = rng.Next(lo, hi + 1);
        image = HalveWhileAtLeast(image, 2 * shortSide);
        image = ScaleShortSide(image, shortSide);
        int y = rng.Next(image.Height - size + 1), x = rng.Next(image.Width - size + 1);
        return Crop(image, x, y, size, size);
    }

    /// <summary>torchvision <c>TenCrop(size)</c>: top-left, top-right, bottom-left, bottom-right, centre; then the same of the mirror image.</summary>
    public static RgbImage[] TenCrop(RgbImage image, int size)
    {
        CheckSize(size);
        if (image.Width < size || image.Height < size)
            throw new ArgumentException($"ten-crop of {size} needs an image at least that large, got {image.Width}×{image.Height}", nameof(image));
        static RgbImage[] Five(RgbImage im, int s)
        {
            int w = im.Width, h = im.Height;
            // torchvision's center_crop rounds the offset: int(round((h - s) / 2.0)).
            int cy = (int)Math.Round((h - s) / 2.0, MidpointRounding.ToEven), cx = (int)Math.Round((w - s) / 2.0, MidpointRounding.ToEven);
            return [Crop(im, 0, 0, s, s), Crop(im, w - s, 0, s, s), Crop(im, 0, h - s, s, s), Crop(im, w - s, h - s, s, s), Crop(im, cx, cy, s, s)];
        }
        return [.. Five(image, size), .. Five(FlipHorizontal(image), size)];
    }

    public static RgbImage FlipHorizontal(RgbImage image)
    {
        int w = image.Width, h = image.Height;
        var dst = new byte[image.Pixels.Length];
        var src = image.Pixels;
        for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
        {
            int s = 3 * (y * w + x), d = 3 * (y * w + (w - 1 - x));
            dst[d] = src[s]; dst[d + 1] = src[s + 1]; dst[d + 2] = src[s + 2];
        }
        return new RgbImage(w, h, dst);
    }

    public static RgbImage Crop(RgbImage image, int x, int y, int width, int height)
    {
        if (x < 0 || y < 0 || width <= 0 || height <= 0 || x + width > image.Width || y + height > image.Height)
            throw new ArgumentOutOfRangeException(nameof(image), $"crop ({x}, {y}, {width}×{height}) outside a {image.Width}×{image.Height} image");
        var dst = new byte[3 * width * height];
        for (int row = 0; row < height; row++)
            Array.Copy(image.Pixels, 3 * ((y + row) * image.Width + x), dst, 3 * row * width, 3 * width);
        return new RgbImage(width, height, dst);
    }

    /// <summary>ToTensor + Normalize(0.5, 0.5): byte v → v/127.5 − 1, written channel-first into <paramref name="chw"/> (3·H·W floats).</summary>
    public static void ToNormalizedChw(RgbImage image, Span<float> chw)
    {
        int plane = image.Width * image.Height;
        if (chw.Length != 3 * plane) throw new ArgumentException($"buffer of {chw.Length} floats for a {image.Width}×{image.Height} image", nameof(chw));
        var p = image.Pixels;
        for (int i = 0; i < plane; i++)
        {
            chw[i] = p[3 * i] / 127.5f - 1f;
            chw[plane + i] = p[3 * i + 1] / 127.5f - 1f;
            chw[2 * plane + i] = p[3 * i + 2] / 127.5f - 1f;
        }
    }

    private static RgbImage HalveWhileAtLeast(RgbImage image, int limit)
    {
        while (Math.Min(image.Width, image.Height) >= limit) image = BoxHalve(image);
        return image;
    }

    private static RgbImage BoxHalve(RgbImage image)
    {
        int w = image.Width / 2, h = image.Height / 2, sw = image.Width;
        var src = image.Pixels;
        var dst = new byte[3 * w * h];
        for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
        for (int c = 0; c < 3; c++)
        {
            int a = src[3 * ((2 * y) * sw + 2 * x) + c] + src[3 * ((2 * y) * sw + 2 * x + 1) + c]
                  + src[3 * ((2 * y + 1) * sw + 2 * x) + c] + src[3 * ((2 * y + 1) * sw + 2 * x + 1) + c];
            dst[3 * (y * w + x) + c] = (byte)((a + 2) / 4);
        }
        return new RgbImage(w, h, dst);
    }

    private static RgbImage ScaleShortSide(RgbImage image, int shortSide)
    {
        double scale = (double)shortSide / Math.Min(image.Width, image.Height);
        int w = (int)Math.Round(image.Width * scale, MidpointRounding.ToEven), h = (int)Math.Round(image.Height * scale, MidpointRounding.ToEven);
        return Resize(image, w, h);
    }

    /// <summary>Bicubic (Catmull-Rom) resize with Skia.</summary>
    public static RgbImage Resize(RgbImage image, int width, int height)
    {
        if (width <= 0 || height <= 0) throw new ArgumentOutOfRangeException(nameof(width), $"target size {width}×{height} must be positive");
        if (width == image.Width && height == image.Height) return image;
        using var src = ToBitmap(image);
        using var dst = src.Resize(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Unpremul),
            new SKSamplingOptions(SKCubicResampler.CatmullRom))
            ?? throw new InvalidOperationException($"Skia could not resize {image.Width}×{image.Height} to {width}×{height}");
        var rgba = dst.Bytes;
        var rgb = new byte[3 * width * height];
        for (int i = 0, j = 0; j < rgb.Length; i += 4, j += 3)
        {
            rgb[j] = rgba[i]; rgb[j + 1] = rgba[i + 1]; rgb[j + 2] = rgba[i + 2];
        }
        return new RgbImage(width, height, rgb);
    }

    private static SKBitmap ToBitmap(RgbImage image)
    {
        var bitmap = new SKBitmap(new SKImageInfo(image.Width, image.Height, SKColorType.Rgba8888, SKAlphaType.Unpremul));
        var rgba = new byte[4 * image.Width * image.Height];
        var p = image.Pixels;
        for (int i = 0, j = 0; j < p.Length; i += 4, j += 3)
        {
            rgba[i] = p[j]; rgba[i + 1] = p[j + 1]; rgba[i + 2] = p[j + 2]; rgba[i + 3] = 255;
        }
        System.Runtime.InteropServices.Marshal.Copy(rgba, 0, bitmap.GetPixels(), rgba.Length);
        return bitmap;
    }

    private static void CheckSize(int size)
    {
        if (size <= 0) throw new ArgumentOutOfRangeException(nameof(size), size, "crop size must be positive");
    }
}
