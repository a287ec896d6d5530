using System.Buffers.Binary;

namespace DetailFlow.Api.Tests;

/// <summary>Reads a PNG's size from its IHDR chunk (and checks the signature).</summary>
public static class PngInfo
{
    public static (int Width, int Height) Size(byte[] png)
    {
        byte[] signature = [137, 80, 78, 71, 13, 10, 26, 10];
        Assert.True(png.AsSpan(0, 8).SequenceEqual(signature), "not a PNG");
        Assert.Equal("IHDR", System.Text.Encoding.ASCII.GetString(png, 12, 4));
        return (BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(16)), BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(20)));
    }
}
