using PuppeteerSharp;

namespace DetailFlow.Api.Tests.Browser;

/// <summary>The page against the service with API keys on: it asks for a key on the first 401 and keeps it for the session.</summary>
public sealed class KeyedPageTests(KeyedApiFactory api, Chromium chromium) : IClassFixture<KeyedApiFactory>, IClassFixture<Chromium>
{
    private static readonly WaitForFunctionOptions Patient = new() { Timeout = 60_000, PollingInterval = 50 };

    [Fact]
    public async Task Page_AsksForTheKeyOnce_ThenGenerates()
    {
        await using var page = await chromium.Browser.NewPageAsync();
        var dialogs = new List<string>();
        page.Dialog += async (_, e) =>
        {
            dialogs.Add(e.Dialog.Message);
            await e.Dialog.Accept(KeyedApiFactory.Key);
        };
        await page.GoToAsync(api.CreateClient().BaseAddress + "", WaitUntilNavigation.Load);
        await page.WaitForFunctionAsync("() => !document.getElementById('generate').disabled", Patient);   // the model list is open

        await page.SelectAsync("#tokens", "8");
        await page.ClickAsync("#generate");
        await page.WaitForFunctionAsync("() => document.querySelectorAll('#gallery .result').length === 1", Patient);
        Assert.Single(dialogs);
        Assert.Equal(KeyedApiFactory.Key, await page.EvaluateExpressionAsync<string>("sessionStorage.getItem('detailflow-api-key')"));

        await page.ClickAsync("#generate");
        await page.WaitForFunctionAsync("() => document.querySelectorAll('#gallery .result').length === 2", Patient);
        Assert.Single(dialogs);   // the kept key was sent
        Assert.Equal("done", await page.EvaluateExpressionAsync<string>("document.getElementById('status').dataset.state"));
    }
}
