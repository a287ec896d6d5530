using System.Text.Json;
using DetailFlow.Cli.Bench;
using DetailFlow.Core.Gpt;
using DetailFlow.Core.Runtime;

namespace DetailFlow.Cli.Tests;

public sealed class GenerationBenchmarkTests
{
    private static readonly GptConfig s_tiny = new() { Dim = 32, NLayer = 1, NHead = 2, VocabSize = 64, NumClasses = 10, BlockSize = 32, GroupSize = 4, CausalNum = 4, MultipleOf = 32 };

    [Fact]
    public async Task AutoAndFixedPrecisions_EachRowCarriesTheDTypeThatRan_AndTheJsonNamesTheAutoChoice()
    {
        var options = new GenerationBenchmarkOptions
        {
            Model = s_tiny, Concurrency = [1, 2], Runs = 1, Engines = [BenchEngine.Kv],
            Precisions = [ModelPrecision.Auto, ModelPrecision.BFloat16, ModelPrecision.Float32], Json = true, RooflineBudgetSeconds = 0.2,
        };
        using var text = new StringWriter();
        Assert.Equal(0, await GenerationBenchmark.RunAsync(options, text, CancellationToken.None));
        using var doc = JsonDocument.Parse(text.ToString());
        string auto = doc.RootElement.GetProperty("auto_dtype").GetString()!;
        Assert.Contains(auto, new[] { "fp32", "bf16", "fp16" });
        var rows = doc.RootElement.GetProperty("rows").EnumerateArray()
            .Select(r => (Requested: r.GetProperty("requested_dtype").GetString(), DType: r.GetProperty("dtype").GetString(), Fraction: r.GetProperty("floor_fraction").GetDouble()))
            .ToList();
        Assert.Equal(6, rows.Count);
        Assert.All(rows.Where(r => r.Requested == "auto"), r => Assert.Equal(auto, r.DType));
        Assert.All(rows.Where(r => r.Requested != "auto"), r => Assert.Equal(r.Requested, r.DType));
        Assert.Equal(["auto", "bf16", "fp32"], rows.Select(r => r.Requested).Distinct().Order());
        Assert.All(rows, r => Assert.True(r.Fraction > 0));
        Assert.True(doc.RootElement.GetProperty("roofline").GetProperty("gpt").GetArrayLength() > 0);

        // The table (auto and a fixed row can share a dtype) prints too. Its own probe may choose another precision on a
        // busy machine when the tiny model's candidates are about as fast, so the label is read, not assumed.
        Assert.True(ModelPrecisions.TryParse(auto, out var same));
        using var table = new StringWriter();
        Assert.Equal(0, await GenerationBenchmark.RunAsync(options with { Json = false, Precisions = [ModelPrecision.Auto, same] }, table, CancellationToken.None));
        Assert.Matches(@"auto:(fp32|bf16|fp16)", table.ToString());
    }

    [Fact]
    public async Task PackedWeights_RunWhereTheyApply_AndEachRowSaysWhichLayoutRan()
    {
        var options = new GenerationBenchmarkOptions
        {
            Model = s_tiny, Concurrency = [2], Runs = 1, Engines = [BenchEngine.Kv], Weights = WeightLayout.Packed,
            Precisions = [ModelPrecision.BFloat16, ModelPrecision.Float32], Json = true, RooflineBudgetSeconds = 0.2,
        };
        using var text = new StringWriter();
        Assert.Equal(0, await GenerationBenchmark.RunAsync(options, text, CancellationToken.None));
        using var doc = JsonDocument.Parse(text.ToString());
        var rows = doc.RootElement.GetProperty("rows").EnumerateArray()
            .ToDictionary(r => r.GetProperty("dtype").GetString()!, r => r.GetProperty("weights").GetString());
        Assert.Equal("packed", rows["bf16"]);
        Assert.Equal("plain", rows["fp32"]);                                   // fp32 products take no packed weight
    }

    [Theory]
    [InlineData(AttentionKernel.OnePass, "one-pass up to 4 rows")]
    [InlineData(AttentionKernel.Sdpa, "sdpa")]
    public async Task Attention_RunsAsConfiguredWhereItApplies_AndEachRowSaysHowItAttended(AttentionKernel attention, string expected)
    {
        var options = new GenerationBenchmarkOptions
        {
            Model = s_tiny, Concurrency = [2], Runs = 1, Engines = [BenchEngine.Kv], Attention = attention,
            Precisions = [ModelPrecision.BFloat16, ModelPrecision.Float16], Json = true, RooflineBudgetSeconds = 0.2,
        };
        using var text = new StringWriter();
        Assert.Equal(0, await GenerationBenchmark.RunAsync(options, text, CancellationToken.None));
        using var doc = JsonDocument.Parse(text.ToString());
        var rows = doc.RootElement.GetProperty("rows").EnumerateArray()
            .ToDictionary(r => r.GetProperty("dtype").GetString()!, r => r.GetProperty("attention").GetString());
        Assert.Equal(expected, rows["bf16"]);                                  // 2 guided requests: 4 rows
        Assert.Equal("sdpa", rows["fp16"]);                                    // no one-pass kernel for fp16
    }
}
