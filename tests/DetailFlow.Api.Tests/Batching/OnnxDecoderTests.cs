using System.Net;
using System.Net.Http.Json;
using DetailFlow.Api.Hosting;
using DetailFlow.Core.Decoding;
using SkiaSharp;

namespace DetailFlow.Api.Tests;

public sealed class OnnxDecoderTests(OnnxApiFactory onnx, ApiFactory torchApi) : IClassFixture<OnnxApiFactory>, IClassFixture<ApiFactory>
{
    [Theory]
    [InlineData(4)]
    [InlineData(32)]
    public async Task OnnxDecoderServesTheSameImageAsTorch(int tokens)
    {
        using var onnxClient = onnx.CreateClient();
        using var torchClient = torchApi.CreateClient();
        var fromOnnx = await onnxClient.PostAsJsonAsync("/v1/generate", ApiFactory.Body(seed: 5150, tokens: tokens));
        var fromTorch = await torchClient.PostAsJsonAsync("/v1/generate", ApiFactory.Body(seed: 5150, tokens: tokens));
        Assert.Equal(HttpStatusCode.OK, fromOnnx.StatusCode);
        Assert.Equal(HttpStatusCode.OK, fromTorch.StatusCode);
        using var a = SKBitmap.Decode(await fromOnnx.Content.ReadAsByteArrayAsync());
        using var b = SKBitmap.Decode(await fromTorch.Content.ReadAsByteArrayAsync());
        Assert.Equal((b.Width, b.Height), (a.Width, a.Height));
        int worst = 0;
        for (int y = 0; y < a.Height; y++)
            for (int x = 0; x < a.Width; x++)
            {
                SKColor p = a.GetPixel(x, y), q = b.GetPixel(x, y);
                worst = Math.Max(worst, Math.Max(Math.Abs(p.Red - q.Red), Math.Max(Math.Abs(p.Green - q.Green), Math.Abs(p.Blue - q.Blue))));
            }
        Assert.True(worst <= 1, $"8-bit pixels differ by up to {worst} (float pixels agree within 1e-4, so at most one rounding step)");
    }

    [Fact]
    public async Task ModelsList_SaysTheOnnxDecoderRunsItsOwnGraph()
    {
        using var onnxClient = onnx.Client();
        using var torchClient = torchApi.Client();
        static async Task<string?> DecoderAttention(HttpClient client) =>
            System.Text.Json.JsonDocument.Parse(await client.GetStringAsync("/v1/models")).RootElement.GetProperty("data")[0].GetProperty("decoder_attention").GetString();
        Assert.Equal("onnx", await DecoderAttention(onnxClient));
        Assert.NotEqual("onnx", await DecoderAttention(torchClient));
    }

    [Fact]
    public void ValidatorNamesTheOnnxSettingsAtFault()
    {
        var result = new ModelOptionsValidator().Validate(null, new ModelOptions
        {
            GptPath = TinyModel.GptPath,
            TokenizerPath = TinyModel.TokenizerPath,
            DecoderBackend = DecoderBackendKind.Onnx,
            OnnxThreads = -1,
            OnnxModelPath = "/nonexistent/decoder.onnx",
        });
        Assert.True(result.Failed);
        Assert.Contains("ModelOptions:OnnxThreads", result.FailureMessage);
        Assert.Contains("ModelOptions:OnnxModelPath", result.FailureMessage);
    }
}
