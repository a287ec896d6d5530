using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace DetailFlow.Api.Hosting;

/// <summary>Ready once the model is loaded and warmed up.</summary>
public sealed class ModelReadyCheck(ModelState state) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken ct = default) =>
        Task.FromResult(state.IsReady ? HealthCheckResult.Healthy("model loaded")
            : HealthCheckResult.Unhealthy(state.LoadError ?? "model loading"));
}
