using System.Net;
using System.Net.Http.Json;
using DetailFlow.Api.Batching;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;

namespace DetailFlow.Api.Tests;

/// <summary>Room for two jobs (one guided row pair + a queue of one) and a <see cref="StepGate"/> to hold the steps.</summary>
public sealed class GatedSmallQueueFactory : ApiFactory
{
    public StepGate Gate { get; } = new();

    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["BatcherOptions:QueueCapacity"] = "1", ["BatcherOptions:MaxRows"] = "2",
    };

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        builder.ConfigureServices(services => services.AddSingleton<IStepGate>(Gate));
    }
}
