using Microsoft.Extensions.Caching.Memory;
using DetailFlow.Api.Admin;
using DetailFlow.Api.Batching;
using DetailFlow.Api.Caching;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.Extensions.Configuration.Json;
using Microsoft.Extensions.FileProviders;
using Microsoft.Extensions.Options;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;

namespace DetailFlow.Api.Hosting;

public static class ServiceCollectionExtensions
{
    /// <summary>Shutdown time beyond <see cref="BatcherOptions.DrainSeconds"/>: final PNG encoding, responses, Redis writes.</summary>
    public const int ShutdownMarginSeconds = 5;

    /// <summary>Configuration, options (validated at start), model, batcher, cache, health and problem details.</summary>
    public static WebApplicationBuilder AddDetailFlow(this WebApplicationBuilder builder)
    {
        // The repository's top-level appsettings.json travels with the binary; later sources (env vars, args) override it.
        builder.Configuration.Sources.Insert(0, new JsonConfigurationSource
        {
            Path = "appsettings.json", Optional = true, FileProvider = new PhysicalFileProvider(AppContext.BaseDirectory),
        });
        var services = builder.Services;
        services.AddOptions<ModelOptions>().BindConfiguration(nameof(ModelOptions)).PostConfigure(DefaultModel.Apply)
            .PostConfigure(ServingPlan.Apply).ValidateOnStart();
        services.AddSingleton<IValidateOptions<ModelOptions>, ModelOptionsValidator>();
        services.AddOptions<BatcherOptions>().BindConfiguration(nameof(BatcherOptions))
            .PostConfigure<IOptions<ModelOptions>>((b, m) => ServingPlan.Apply(b, m.Value)).ValidateDataAnnotations().ValidateOnStart();
        // SIGTERM: Kestrel stops accepting and waits for in-flight requests, the batcher drains; both within this timeout.
        services.AddOptions<HostOptions>().Configure<IOptions<BatcherOptions>>((host, batcher) =>
            host.ShutdownTimeout = TimeSpan.FromSeconds(batcher.Value.DrainSeconds + ShutdownMarginSeconds));
        services.AddOptions<CacheOptions>().BindConfiguration(nameof(CacheOptions)).ValidateDataAnnotations().ValidateOnStart();

        services.AddSingleton(sp =>
        {
            var telemetry = new DetailFlowTelemetry();
            if (sp.GetService<IMemoryCache>() is MemoryCache results)   // the in-process level (HybridCache's L1)
                telemetry.ObserveResultCache(() => results.GetCurrentStatistics()?.CurrentEstimatedSize ?? 0);
            return telemetry;
        });
        services.AddSingleton<ModelState>();
        services.AddSingleton<ModelLoader>();
        services.AddSingleton<Batcher>();
        services.AddHostedService(sp => sp.GetRequiredService<Batcher>());
        services.AddSingleton<ImageGenerator>();
        services.AddSingleton<CodeCache>();
        services.AddHybridCache(o => o.MaximumPayloadBytes = 8 << 20).AddSerializer<CodeEntry, CodeEntrySerializer>();
        // The in-process level is bounded in bytes (HybridCache sizes each entry by its payload); Redis keeps its own limits.
        services.AddOptions<MemoryCacheOptions>().Configure<IOptions<CacheOptions>>((o, cache) =>
        {
            o.SizeLimit = (long)cache.Value.MemoryMegabytes << 20;
            o.TrackStatistics = true;
        });

        var health = services.AddHealthChecks().AddCheck<ModelReadyCheck>("model", tags: ["ready"]);
        string? redis = builder.Configuration.GetConnectionString("Redis") is { Length: > 0 } r ? r : null;
        services.AddAdmin(redis: redis is not null);
        if (redis is not null)
        {
            // Two connections: the cache closes the one it uses when it is disposed (or force-reconnects), so it gets its
            // own; the job store, the activation channel and the health check share the container-owned one.
            services.AddSingleton(_ => new RedisConnection(redis));
            services.AddStackExchangeRedisCache(_ => { });
            services.AddOptions<Microsoft.Extensions.Caching.StackExchangeRedis.RedisCacheOptions>()
                .Configure<IOptions<CacheOptions>>((o, cache) =>
                {
                    o.ConfigurationOptions = RedisConnection.FailFast(redis);
                    o.InstanceName = cache.Value.RedisInstanceName;
                });
            health.AddCheck<RedisHealthCheck>("redis", tags: ["ready"]);
        }
        services.AddProblemDetails();
        services.AddExceptionHandler<StoreUnavailableHandler>();
        services.AddRequestLimits();
        services.AddApiKeys();
        services.AddOpenApi();
        services.AddOpenTelemetry().ConfigureResource(r => r.AddService("detailflow-api"))
            .WithMetrics(m => m.AddMeter(DetailFlowTelemetry.MeterName, "System.Runtime").AddAspNetCoreInstrumentation()
                .AddView(_ => new MetricStreamConfiguration { CardinalityLimit = DetailFlowTelemetry.SeriesPerMetric }).AddPrometheusExporter());
        return builder;
    }

    public static WebApplication UseDetailFlow(this WebApplication app)
    {
        app.UseExceptionHandler(new ExceptionHandlerOptions
        {
            StatusCodeSelector = e => e is BadHttpRequestException bad ? bad.StatusCode : StatusCodes.Status500InternalServerError,
        });
        app.UseStatusCodePages();
        app.UseCurlJsonBodies();   // before routing, which picks endpoints by content type
        app.UseRouting();
        var page = PageFiles(app.Environment);
        app.UseDefaultFiles(new DefaultFilesOptions { FileProvider = page });
        app.UseStaticFiles(new StaticFileOptions { FileProvider = page });
        app.UseApiKeys();
        app.UseRateLimiter();
        app.MapOpenApi();
        app.UseSwaggerUI(o => o.SwaggerEndpoint("/openapi/v1.json", "DetailFlow v1"));
        app.MapPrometheusScrapingEndpoint();
        app.MapHealthChecks("/healthz", new HealthCheckOptions { Predicate = _ => false });
        app.MapHealthChecks("/readyz", new HealthCheckOptions { Predicate = c => c.Tags.Contains("ready") });
        return app;
    }

    /// <summary>
    /// The page at <c>/</c>: <c>wwwroot</c> under the content root (<c>dotnet run</c>, tests), else the copy beside the
    /// binary, so the service also serves it when started from its build output in another folder.
    /// </summary>
    private static IFileProvider PageFiles(IWebHostEnvironment env)
    {
        if (env.WebRootFileProvider.GetFileInfo("index.html").Exists) return env.WebRootFileProvider;
        string beside = Path.Combine(AppContext.BaseDirectory, "wwwroot");
        return Directory.Exists(beside) ? new PhysicalFileProvider(beside) : env.WebRootFileProvider;
    }
}
