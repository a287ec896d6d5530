using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using DetailFlow.Api.Hosting;
using DetailFlow.Core.Gpt;
using DetailFlow.Core.Runtime;
using DetailFlow.Core.Tokenizer;
using Microsoft.Extensions.DependencyInjection;

namespace DetailFlow.Api.Tests;

public sealed class AutoPrecisionTests(AutoPrecisionFactory api) : IClassFixture<AutoPrecisionFactory>
{
    [Fact]
    public async Task Auto_ServesInTheProbedPrecision_AndShowsItInModelsAndMetrics()
    {
        var model = api.Services.GetRequiredService<ModelState>().Model!;
        string[] names = ["fp32", "bf16", "fp16"];
        Assert.Contains(model.GptDType, names);
        Assert.Contains(model.DecoderDType, names);
        Assert.Equal(ModelPrecisions.ShortName(model.Gpt.DType), model.GptDType);
        Assert.Equal(ModelPrecisions.ShortName(model.Tokenizer.DType), model.DecoderDType);
        using var client = api.Client();

        var entry = JsonDocument.Parse(await client.GetStringAsync("/v1/models")).RootElement.GetProperty("data")[0];
        Assert.Equal(model.GptDType, entry.GetProperty("dtype").GetString());
        Assert.Equal(model.DecoderDType, entry.GetProperty("decoder_dtype").GetString());
        Assert.Contains(model.GptWeights, new[] { "plain", "packed" });
        Assert.Equal(model.GptWeights, entry.GetProperty("weights").GetString());
        Assert.Equal(model.DecoderWeights, entry.GetProperty("decoder_weights").GetString());
        Assert.Equal(AttentionChoice.SummaryOf(model.Gpt.OnePassAttentionRows), model.Attention);
        Assert.Equal(model.Attention, entry.GetProperty("attention").GetString());
        Assert.Equal(model.Products, entry.GetProperty("products").GetString());
        Assert.Equal(HeadwiseChoice.SummaryOf(model.Tokenizer.decoder.HeadwiseFromTokens), entry.GetProperty("decoder_attention").GetString());

        var response = await client.PostAsJsonAsync("/v1/generate", ApiFactory.Body(seed: 4242));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);

        string metrics = await client.GetStringAsync("/metrics");
        var gauge = metrics.Split('\n').Where(l => l.StartsWith("detailflow_model_precision{", StringComparison.Ordinal)).ToList();
        Assert.Contains(gauge, l => l.Contains("component=\"gpt\"") && l.Contains($"dtype=\"{model.GptDType}\""));
        Assert.Contains(gauge, l => l.Contains("component=\"decoder\"") && l.Contains($"dtype=\"{model.DecoderDType}\""));
    }
}
