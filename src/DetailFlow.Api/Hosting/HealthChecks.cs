using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace DetailFlow.Api.Hosting;

/// <summary>Ready once the model is loaded and warmed up; not ready again once shutdown begins (load balancers stop routing).</summary>
public sealed class ModelReadyCheck(ModelState state, IHostApplicationLifetime lifetime) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken ct = default) =>
        Task.FromResult(lifetime.ApplicationStopping.IsCancellationRequested ? HealthCheckResult.Unhealthy("shutting down")
            : state.IsReady ? HealthCheckResult.Healthy("model loaded")
            : HealthCheckResult.Unhealthy(state.LoadError ?? "model loading"));
}
