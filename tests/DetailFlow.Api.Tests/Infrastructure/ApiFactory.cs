using System.Net.Http.Json;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;

namespace DetailFlow.Api.Tests;

/// <summary>The service on real Kestrel (127.0.0.1, free port) with the tiny model; settings via <see cref="Settings"/>.</summary>
public class ApiFactory : WebApplicationFactory<Program>, IAsyncLifetime
{
    public ApiFactory() => UseKestrel(0);

    protected virtual IDictionary<string, string?> Settings => new Dictionary<string, string?>();

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseSetting("ModelOptions:GptPath", TinyModel.GptPath);
        builder.UseSetting("ModelOptions:TokenizerPath", TinyModel.TokenizerPath);
        builder.UseSetting("ModelOptions:Threads", "1");
        // Fixed fp32: tests compare with fp32 references; Auto (the default) has its own tests (AutoPrecisionTests).
        builder.UseSetting("ModelOptions:DType", "Float32");
        for (int i = 0; i < TinyModel.Labels.Length; i++) builder.UseSetting($"ModelOptions:Labels:{i}", TinyModel.Labels[i]);
        foreach (var (k, v) in Settings) builder.UseSetting(k, v);
    }

    /// <summary>A client on the real port that does not drain endless responses on dispose (SSE).</summary>
    public HttpClient Client() => new(new SocketsHttpHandler { MaxResponseDrainSize = 0 }) { BaseAddress = CreateClient().BaseAddress };

    public async Task InitializeAsync()
    {
        StartServer();
        using var client = CreateClient();
        await WaitUntilReadyAsync(client);
    }

    /// <summary>Polls <c>/readyz</c> (model loaded and warmed up) for up to 30 s.</summary>
    public static Task WaitUntilReadyAsync(HttpClient client) =>
        Eventually(async () => (await client.GetAsync("/readyz")).StatusCode, status => (int)status is >= 200 and < 300,
            TimeSpan.FromSeconds(30), "the service did not become ready (/readyz)");

    Task IAsyncLifetime.DisposeAsync() => DisposeAsync().AsTask();

    public static object Body(object? @class = null, long? seed = null, int? tokens = null, int? n = null, string? format = null) =>
        new Dictionary<string, object?> { ["class"] = @class ?? 1, ["seed"] = seed, ["tokens"] = tokens, ["n"] = n, ["response_format"] = format }
            .Where(kv => kv.Value is not null).ToDictionary();
}
