using System.Net;
using System.Net.Http.Json;
using System.Net.ServerSentEvents;
using System.Text.Json;
using DetailFlow.Api.Hosting;
using DetailFlow.Core.Runtime;
using Microsoft.Extensions.DependencyInjection;
using TorchSharp.Modules;

namespace DetailFlow.Api.Tests;

/// <summary>
/// The tiny model in bf16 with its linear weights packed for oneDNN (ModelOptions:Weights = Packed) and its cached
/// steps attending in one pass (ModelOptions:Attention = OnePass); products of up to 8 rows by the packed weights that
/// C# can read run there (ModelOptions:HostProductRows = 8; of the tiny GPT, the output head's 64 outputs).
/// </summary>
public sealed class PackedWeightsFactory : ApiFactory
{
    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["ModelOptions:DType"] = "BFloat16",
        ["ModelOptions:Weights"] = "Packed",
        ["ModelOptions:Attention"] = "OnePass",
        ["ModelOptions:HostProductRows"] = "8",
    };
}

public sealed class PackedWeightsServingTests(PackedWeightsFactory api) : IClassFixture<PackedWeightsFactory>
{
    [Fact]
    public async Task PackedAndOnePass_EveryLinearIsPacked_ShownInModels_AndGeneratesAndStreams()
    {
        var model = api.Services.GetRequiredService<ModelState>().Model!;
        Assert.Equal(("packed", "packed"), (model.GptWeights, model.DecoderWeights));
        Assert.All(model.Gpt.modules().OfType<Linear>(), l => Assert.True(PackedLinear.IsPacked(l)));
        Assert.All(model.Tokenizer.modules().OfType<Linear>(), l => Assert.True(PackedLinear.IsPacked(l)));
        using var client = api.Client();

        var entry = JsonDocument.Parse(await client.GetStringAsync("/v1/models")).RootElement.GetProperty("data")[0];
        Assert.Equal("bf16", entry.GetProperty("dtype").GetString());
        Assert.Equal("packed", entry.GetProperty("weights").GetString());
        Assert.Equal("packed", entry.GetProperty("decoder_weights").GetString());
        Assert.True(model.Gpt.OnePassAttentionRows >= 2);
        Assert.Equal($"one-pass up to {model.Gpt.OnePassAttentionRows} rows", entry.GetProperty("attention").GetString());
        Assert.Equal(8, PackedLinear.HostView(model.Gpt.output)?.HostRows);
        Assert.Equal("C# up to 8 rows", entry.GetProperty("products").GetString());

        var response = await client.PostAsJsonAsync("/v1/generate", ApiFactory.Body(seed: 5151));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        int size = model.Schedule.Resolution(model.MaxTokens);
        Assert.Equal((size, size), PngInfo.Size(await response.Content.ReadAsByteArrayAsync()));

        using var stream = await client.PostAsJsonAsync("/v1/generate/stream", new { @class = 1, seed = 5152, previews = "all" });
        var items = new List<SseItem<string>>();
        await foreach (var item in SseParser.Create(await stream.Content.ReadAsStreamAsync()).EnumerateAsync())
            if (item.EventType != "heartbeat") items.Add(item);
        Assert.Equal(model.Schedule.ValidPrefixes.Count(t => t < model.MaxTokens), items.Count(i => i.EventType == "preview"));
        Assert.Equal("completed", items[^1].EventType);
    }
}
