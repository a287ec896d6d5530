using DetailFlow.Api.Batching;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;

namespace DetailFlow.Api.Tests;

/// <summary>
/// Steps held by a <see cref="StepGate"/>; a stream's steps up to its first preview run apart from its batch mates
/// whenever they share a step (<c>BatcherOptions:EagerCostRatio</c> = 0: the tiny model's steps cost about the same at
/// any size, so the measured rule would never split them).
/// </summary>
public class EagerPreviewFactory : ApiFactory
{
    public StepGate Gate { get; } = new();

    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["BatcherOptions:EagerCostRatio"] = "0",
    };

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        builder.ConfigureServices(services => services.AddSingleton<IStepGate>(Gate));
    }
}

/// <summary>The same with <c>BatcherOptions:EagerFirstPreviews</c> off: a stream's first steps ride along.</summary>
public sealed class RidingPreviewFactory : EagerPreviewFactory
{
    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>(base.Settings)
    {
        ["BatcherOptions:EagerFirstPreviews"] = "false",
    };
}
