using System.Text.Json;
using PuppeteerSharp;

namespace DetailFlow.Api.Tests.Browser;

/// <summary>The page at <c>/</c> in headless chromium against the service on real Kestrel with the tiny model.</summary>
public sealed class PreviewPageTests(ApiFactory api, Chromium chromium) : IClassFixture<ApiFactory>, IClassFixture<Chromium>
{
    private static readonly WaitForFunctionOptions Patient = new() { Timeout = 60_000, PollingInterval = 50 };

    private sealed record Shown(int NaturalWidth, int NaturalHeight, int Tokens, int Resolution);

    private const string ShownScript = """
        sel => [...document.querySelectorAll(sel)].map(i => ({ d: i.closest('[data-tokens]').dataset, i })).map(({ d, i }) => ({
          naturalWidth: i.naturalWidth, naturalHeight: i.naturalHeight, tokens: +d.tokens, resolution: +d.resolution }))
        """;

    private async Task<(IPage Page, List<string> Errors)> OpenAsync()
    {
        var page = await chromium.Browser.NewPageAsync();
        var errors = new List<string>();
        page.Console += (_, e) => { if (e.Message.Type == ConsoleType.Error) errors.Add(e.Message.Text); };
        page.PageError += (_, e) => errors.Add(e.Message);
        var response = await page.GoToAsync(api.CreateClient().BaseAddress + "", WaitUntilNavigation.Load);
        Assert.True(response.Ok, $"GET / answered {response.Status}");
        await page.WaitForFunctionAsync("() => !document.getElementById('generate').disabled", Patient);
        return (page, errors);
    }

    private static async Task<Shown[]> ShownAsync(IPage page, string selector)
    {
        await page.WaitForFunctionAsync($"() => [...document.querySelectorAll('{selector}')].every(i => i.complete && i.naturalWidth > 0)", Patient);
        return await page.EvaluateFunctionAsync<Shown[]>(ShownScript, selector);
    }

    [Fact]
    public async Task Page_Generate_ShowsSharpeningPreviewsThenTheFinalImageInTheGallery()
    {
        var (page, errors) = await OpenAsync();
        await using var _ = page;
        Assert.Equal("DetailFlow", await page.GetTitleAsync());
        Assert.Equal(TinyModel.Labels.Length, await page.EvaluateExpressionAsync<int>("document.querySelectorAll('#class option').length"));

        await page.SelectAsync("#class", "3");
        await page.EvaluateExpressionAsync("document.getElementById('seed').value = '2024'");
        await page.SelectAsync("#tokens", "32");
        await page.ClickAsync("#generate");
        await page.WaitForFunctionAsync("() => document.querySelectorAll('#gallery .result').length === 1", Patient);

        var previews = await ShownAsync(page, "#previews img");
        Assert.True(previews.Length >= 3, $"{previews.Length} previews");
        foreach (var p in previews)
            Assert.Equal((p.Resolution, p.Resolution), (p.NaturalWidth, p.NaturalHeight));
        var widths = previews.Select(p => p.NaturalWidth).ToArray();
        Assert.Equal(widths.Order(), widths);
        Assert.True(widths.Distinct().Count() >= 3, $"preview widths {string.Join(", ", widths)}: fewer than 3 resolutions");
        Assert.Equal(previews.Select(p => p.Tokens).Order(), previews.Select(p => p.Tokens));

        var final = Assert.Single(await ShownAsync(page, "#gallery .result img"));
        Assert.Equal((32, 32), (final.NaturalWidth, final.NaturalHeight));
        Assert.True(final.NaturalWidth > widths[0]);
        var result = await page.EvaluateExpressionAsync<JsonElement>(
            "(({ tokens, resolution, seed, codesId }) => ({ tokens, resolution, seed, codesId }))(document.querySelector('#gallery .result').dataset)");
        Assert.Equal("32", result.GetProperty("tokens").GetString());
        Assert.Equal("2024", result.GetProperty("seed").GetString());
        Assert.Equal("true", await page.EvaluateExpressionAsync<string>("document.getElementById('current').dataset.final"));
        Assert.Equal("done", await page.EvaluateExpressionAsync<string>("document.getElementById('status').dataset.state"));
        Assert.Equal("pixelated", await page.EvaluateExpressionAsync<string>("getComputedStyle(document.getElementById('current')).imageRendering"));
        Assert.Empty(errors);

        if (Environment.GetEnvironmentVariable("DETAILFLOW_SCREENSHOT") is { Length: > 0 } shot)
        {
            await page.SetViewportAsync(new ViewPortOptions { Width = 1100, Height = 900 });
            await page.ScreenshotAsync(shot, new ScreenshotOptions { FullPage = true });
        }
    }

    [Fact]
    public async Task Page_RefineAResult_StreamsOnlyTheAddedDetailAndAddsTheLargerImage()
    {
        var (page, errors) = await OpenAsync();
        await using var _ = page;
        await page.EvaluateExpressionAsync("document.getElementById('seed').value = '77'");
        await page.SelectAsync("#tokens", "8");
        await page.ClickAsync("#generate");
        await page.WaitForFunctionAsync("() => document.querySelectorAll('#gallery .result').length === 1", Patient);
        var coarse = Assert.Single(await ShownAsync(page, "#gallery .result img"));
        Assert.Equal(8, coarse.Tokens);

        await page.SelectAsync("#gallery .result .refine-tokens", "32");
        await page.ClickAsync("#gallery .result .refine");
        await page.WaitForFunctionAsync("() => document.querySelectorAll('#gallery .result').length === 2", Patient);

        var previews = await ShownAsync(page, "#previews img");
        Assert.NotEmpty(previews);
        Assert.All(previews, p => Assert.InRange(p.Tokens, 9, 31));
        var images = await ShownAsync(page, "#gallery .result img");
        Assert.Equal(32, images[0].NaturalWidth);            // newest first
        Assert.True(images[1].NaturalWidth < images[0].NaturalWidth);
        Assert.Equal(0, await page.EvaluateExpressionAsync<int>("document.querySelectorAll('#gallery .result')[0].querySelectorAll('.refine').length"));
        Assert.Empty(errors);
    }
}
