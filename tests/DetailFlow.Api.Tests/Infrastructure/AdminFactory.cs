using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Net.ServerSentEvents;
using System.Text.Json;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.Caching.Hybrid;
using Microsoft.Extensions.DependencyInjection;

namespace DetailFlow.Api.Tests;

/// <summary>
/// The service with the admin API on (key <see cref="Key"/>), jobs in a fresh data folder, small upload limits, and its
/// cache wrapped in a <see cref="GatedHybridCache"/> (so a request can be held in flight across a model swap).
/// </summary>
public class AdminFactory : ApiFactory
{
    public const string Key = "test-admin-key-0123456789";
    public const long UploadLimit = 512 * 1024;

    public AdminFactory() : this(null) { }

    protected AdminFactory(string? dataFolder) =>
        DataFolder = dataFolder ?? Path.Combine(Path.GetTempPath(), "detailflow-admin-" + Guid.NewGuid().ToString("N")[..8]);

    public string DataFolder { get; }

    public GatedHybridCache Cache => (GatedHybridCache)Services.GetRequiredService<HybridCache>();

    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["Admin:ApiKey"] = Key, ["Admin:DataFolder"] = DataFolder, ["Admin:MaxUploadBytes"] = UploadLimit.ToString(),
        ["Admin:TrainingThreads"] = "1",
    };

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        builder.ConfigureTestServices(IHybridCacheDecorator<GatedHybridCache>.Replace);
    }

    /// <summary>A client that sends the admin key.</summary>
    public HttpClient Admin()
    {
        var client = Client();
        client.DefaultRequestHeaders.Add("X-Api-Key", Key);
        return client;
    }

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        if (OwnsDataFolder && Directory.Exists(DataFolder)) Directory.Delete(DataFolder, recursive: true);
    }

    protected virtual bool OwnsDataFolder => true;
}
