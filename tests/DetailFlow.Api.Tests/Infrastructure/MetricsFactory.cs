using System.Globalization;
using System.Net.Http.Json;
using DetailFlow.Api.Batching;
using DetailFlow.Core.Generation;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;

namespace DetailFlow.Api.Tests;

public sealed class MetricsFactory : ApiFactory
{
    public StepGate Gate { get; } = new();

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        builder.ConfigureServices(services => services.AddSingleton<IStepGate>(Gate));
    }
}
