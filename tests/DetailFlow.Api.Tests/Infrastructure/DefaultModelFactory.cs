using System.Text.Json;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using DetailFlow.Api.Hosting;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;

namespace DetailFlow.Api.Tests;

/// <summary>The service with no model configuration serves the embedded default model (models/default, Fashion-MNIST).</summary>
public sealed class DefaultModelFactory : WebApplicationFactory<Program>, IAsyncLifetime
{
    public DefaultModelFactory() => UseKestrel(0);

    // No ModelOptions:GptPath / TokenizerPath / Labels: only the top-level appsettings.json travels with the binary.
    protected override void ConfigureWebHost(IWebHostBuilder builder) => builder.UseSetting("ModelOptions:Threads", "1");

    public async Task InitializeAsync()
    {
        StartServer();
        using var client = CreateClient();
        await ApiFactory.WaitUntilReadyAsync(client);
    }

    Task IAsyncLifetime.DisposeAsync() => DisposeAsync().AsTask();
}
