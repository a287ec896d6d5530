namespace DetailFlow.Api.Imaging;

/// <summary>One decoded prefix: RGB bytes at its scheduled resolution.</summary>
public sealed record DecodedImage(int Tokens, int Resolution, byte[] Rgb);
