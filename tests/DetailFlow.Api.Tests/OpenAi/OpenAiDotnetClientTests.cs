using System.ClientModel;
using OpenAI;
using OpenAI.Images;

namespace DetailFlow.Api.Tests;

/// <summary>The official OpenAI .NET package (2.15.0), unmodified, pointed at the service with <see cref="OpenAIClientOptions.Endpoint"/>.</summary>
public sealed class OpenAiDotnetClientTests(ApiFactory api) : IClassFixture<ApiFactory>
{
    private ImageClient Client(string model = "gpt", string key = "not-checked") =>
        new(model, new ApiKeyCredential(key), new OpenAIClientOptions { Endpoint = new Uri(api.Client().BaseAddress!, "/v1"), RetryPolicy = new System.ClientModel.Primitives.ClientRetryPolicy(0) });

    [Fact]
    public async Task GenerateImageAsync_ReturnsAPngAtFullDetail()
    {
        ClientResult<GeneratedImage> result = await Client().GenerateImageAsync("goldfish");
        var (w, h) = PngInfo.Size(result.Value.ImageBytes.ToArray());
        Assert.Equal((32, 32), (w, h));
    }

    [Fact]
    public async Task GenerateImagesAsync_TwoImagesAtARequestedSmallerSize()
    {
        var options = new ImageGenerationOptions { Size = new GeneratedImageSize(16, 16) };
        ClientResult<GeneratedImageCollection> result = await Client().GenerateImagesAsync("Robin", 2, options);
        Assert.Equal(2, result.Value.Count);
        foreach (var image in result.Value) Assert.Equal((16, 16), PngInfo.Size(image.ImageBytes.ToArray()));
#pragma warning disable OPENAI001   // Usage is marked experimental in 2.15.0; the service must still fill it in
        Assert.True(result.Value.Usage?.OutputTokenCount is > 0 and < 2 * 32, $"output tokens {result.Value.Usage?.OutputTokenCount}");
#pragma warning restore OPENAI001
    }

    [Fact]
    public async Task UnknownPrompt_IsA400ClientResultException()
    {
        var e = await Assert.ThrowsAsync<ClientResultException>(() => Client().GenerateImageAsync("a cat on a sofa"));
        Assert.Equal(400, e.Status);
        Assert.Contains("Closest labels", e.Message);
    }

    [Fact]
    public async Task UnknownModel_IsA404ClientResultException()
    {
        var e = await Assert.ThrowsAsync<ClientResultException>(() => Client(model: "gpt-image-1").GenerateImageAsync("owl"));
        Assert.Equal(404, e.Status);
    }
}
