using System.ClientModel;
using OpenAI;
using OpenAI.Images;

namespace DetailFlow.Api.Tests;

/// <summary>The .NET client against the service with API keys on.</summary>
public sealed class OpenAiDotnetClientKeyTests(KeyedApiFactory api) : IClassFixture<KeyedApiFactory>
{
    private ImageClient Client(string key) =>
        new("gpt", new ApiKeyCredential(key), new OpenAIClientOptions { Endpoint = new Uri(api.Client().BaseAddress!, "/v1"), RetryPolicy = new System.ClientModel.Primitives.ClientRetryPolicy(0) });

    [Fact]
    public async Task WrongKey_Is401_RightKey_ReturnsAPng()
    {
        var e = await Assert.ThrowsAsync<ClientResultException>(() => Client("wrong").GenerateImageAsync("owl"));
        Assert.Equal(401, e.Status);
        var image = await Client(KeyedApiFactory.OtherKey).GenerateImageAsync("owl");
        PngInfo.Size(image.Value.ImageBytes.ToArray());
    }
}
