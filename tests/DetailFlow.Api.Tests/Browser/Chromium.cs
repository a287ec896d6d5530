using PuppeteerSharp;

namespace DetailFlow.Api.Tests.Browser;

/// <summary>
/// One headless Debian chromium per test class (PuppeteerSharp, never a browser download). Missing chromium is a
/// failure with the fix in the message, not a skip: <c>tests/run.sh</c> installs it.
/// </summary>
public sealed class Chromium : IAsyncLifetime
{
    /// <summary>The system browser; <c>DETAILFLOW_CHROMIUM</c> overrides the path.</summary>
    public static string ExecutablePath => Environment.GetEnvironmentVariable("DETAILFLOW_CHROMIUM") is { Length: > 0 } path ? path : "/usr/bin/chromium";

    private readonly string _profile = Path.Combine(Path.GetTempPath(), "detailflow-chromium-" + Guid.NewGuid().ToString("N"));
    private IBrowser? _browser;

    public IBrowser Browser => _browser ?? throw new InvalidOperationException("the browser is not started");

    public async Task InitializeAsync()
    {
        Assert.True(File.Exists(ExecutablePath),
            $"chromium not found at {ExecutablePath}: install it (apt-get install -y chromium) or set DETAILFLOW_CHROMIUM");
        _browser = await Puppeteer.LaunchAsync(new LaunchOptions
        {
            Headless = true,
            ExecutablePath = ExecutablePath,
            UserDataDir = _profile,
            Args =
            [
                "--no-sandbox", // required as root
                "--headless", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync",
            ],
        });
    }

    public async Task DisposeAsync()
    {
        if (_browser is not null) await _browser.DisposeAsync();
        try { Directory.Delete(_profile, recursive: true); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }   // chromium may still hold a lock file for a moment; the temp folder is cleaned later
    }
}
