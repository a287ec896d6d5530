using DetailFlow.Api.Batching;
using DetailFlow.Api.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace DetailFlow.Api.Tests;

/// <summary>
/// The service's KV caches (<see cref="Batcher.KvCacheBytes"/>, the gauge <c>detailflow_memory_kv_cache_bytes</c>) and
/// one engine's share. Read from the batcher, not <c>/metrics</c>: OpenTelemetry listens to every service's meter in the
/// test process, so a scrape may carry another fixture's gauge (<see cref="MetricsCollection"/>).
/// </summary>
internal static class KvCacheGauge
{
    /// <summary>One engine's cache for the active model: layers × keys and values × rows × heads × (N + 1) × hd × 4 bytes (tests serve float32).</summary>
    public static long OneEngine(IServiceProvider services)
    {
        var config = services.GetRequiredService<ModelState>().Model!.GptConfig;
        int rows = services.GetRequiredService<IOptions<BatcherOptions>>().Value.MaxRows;
        return 2L * config.NLayer * rows * config.NHead * (config.BlockSize + 1) * config.HeadDim * sizeof(float);
    }

    /// <summary>Waits (up to 10 s) until the service's KV caches hold <paramref name="engines"/> engines' worth of bytes.</summary>
    public static Task WaitForEngines(IServiceProvider services, int engines, string message)
    {
        var batcher = services.GetRequiredService<Batcher>();
        long one = OneEngine(services);
        return Eventually(() => batcher.KvCacheBytes, b => b == engines * one, TimeSpan.FromSeconds(10), message, b => $"{b} bytes of KV cache, one engine {one}");
    }
}
