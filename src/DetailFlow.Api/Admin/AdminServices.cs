using DetailFlow.Api.Hosting;
using Microsoft.Extensions.Options;

namespace DetailFlow.Api.Admin;

public static class AdminServices
{
    /// <summary>Options, the job store (Redis when <c>ConnectionStrings:Redis</c> is set, else a JSON file), the worker and the activator.</summary>
    public static IServiceCollection AddAdmin(this IServiceCollection services, bool redis)
    {
        services.AddOptions<AdminOptions>().BindConfiguration("Admin").ValidateDataAnnotations().ValidateOnStart();
        if (redis)
        {
            services.AddSingleton<IJobStore, RedisJobStore>();
            services.AddSingleton<IActiveModelStore, RedisActiveModelStore>();
        }
        else services.AddSingleton<IJobStore, FileJobStore>();
        services.AddSingleton<JobEvents>();
        services.AddSingleton<JobWorker>();
        services.AddHostedService(sp => sp.GetRequiredService<JobWorker>());
        services.AddSingleton<ModelActivator>();
        services.AddHostedService(sp => sp.GetRequiredService<ModelActivator>());
        return services;
    }

    /// <summary><c>/admin/*</c> behind <see cref="AdminAuth"/>; logs at start whether the admin API is on.</summary>
    public static IEndpointRouteBuilder MapAdminEndpoints(this WebApplication app)
    {
        var options = app.Services.GetRequiredService<IOptions<AdminOptions>>().Value;
        if (string.IsNullOrEmpty(options.ApiKey))
            app.Logger.LogWarning("Admin API is off: no Admin:ApiKey (environment Admin__ApiKey) is configured, so /admin/* answers 401");
        else
            app.Logger.LogInformation("Admin API is on (/admin/*, key in the X-Api-Key header); jobs in {Folder}", Path.GetFullPath(options.DataFolder));
        var admin = app.MapGroup("admin").WithTags("Admin").AddEndpointFilter<AdminAuth>();
        admin.MapJobEndpoints();
        admin.MapModelAdminEndpoints();
        return app;
    }
}
