using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.Caching.Hybrid;
using Microsoft.Extensions.DependencyInjection;

namespace DetailFlow.Api.Tests;

/// <summary>A test decorator of the service's <see cref="HybridCache"/>.</summary>
public interface IHybridCacheDecorator<TSelf> where TSelf : HybridCache, IHybridCacheDecorator<TSelf>
{
    static abstract TSelf Wrap(HybridCache inner);

    /// <summary>Wraps the service's registered <see cref="HybridCache"/> in a <typeparamref name="TSelf"/> (in ConfigureTestServices).</summary>
    static void Replace(IServiceCollection services)
    {
        var original = services.Last(d => d.ServiceType == typeof(HybridCache));
        services.Remove(original);
        services.AddSingleton<HybridCache>(sp => TSelf.Wrap((HybridCache)(original.ImplementationInstance
            ?? original.ImplementationFactory?.Invoke(sp) ?? ActivatorUtilities.CreateInstance(sp, original.ImplementationType!))));
    }
}

/// <summary>The service with its <see cref="HybridCache"/> wrapped in a <typeparamref name="TCache"/>.</summary>
public abstract class DecoratedCacheFactory<TCache> : ApiFactory where TCache : HybridCache, IHybridCacheDecorator<TCache>
{
    public TCache Cache => (TCache)Services.GetRequiredService<HybridCache>();

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        builder.ConfigureTestServices(IHybridCacheDecorator<TCache>.Replace);
    }
}

public sealed class CountingCacheFactory : DecoratedCacheFactory<CountingHybridCache>;

public sealed class GatedCacheFactory : DecoratedCacheFactory<GatedHybridCache>;
