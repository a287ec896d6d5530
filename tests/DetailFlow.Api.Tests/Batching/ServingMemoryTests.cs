using Xunit.Abstractions;
using System.Globalization;
using System.Net.Http.Json;

namespace DetailFlow.Api.Tests;

/// <summary>
/// Sustained generation on the tiny model, in a service process of its own (its <c>/metrics</c> see only this traffic):
/// the garbage of hundreds of steps must be collected while the traffic lasts. Before the step gate, serving's no-GC
/// regions ran back to back under load and no collection ever ran: the managed heap grew by everything allocated, and
/// the native memory of undisposed TorchSharp wrappers waited for finalizers that never came.
/// </summary>
public sealed class ServingMemoryTests(ITestOutputHelper output)
{
    private const long AllocationTarget = 256L << 20;   // managed bytes the traffic must allocate
    private const int Clients = 8;

    [Fact]
    public async Task SustainedGenerationKeepsManagedAndNativeHeapsBounded()
    {
        await using var service = await ServiceProcess.StartAsync(new Dictionary<string, string>
        {
            ["CacheOptions__MemoryMegabytes"] = "4",   // the result cache may not hide (or explain) any growth
            ["BatcherOptions__QueueCapacity"] = "256",
        });
        using var client = service.Client(TimeSpan.FromMinutes(2));
        await GenerateAsync(client, images: 64, seedBase: 1_000_000, CancellationToken.None);   // warm: kernels, pools, caches
        var start = await SampleAsync(client);

        // Closed-loop clients with fresh seeds until the service has allocated the target (bounded in time as well).
        using var stop = new CancellationTokenSource(TimeSpan.FromMinutes(4));
        var peak = start;
        var sampler = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                var now = await SampleAsync(client);
                peak = peak with { Managed = Math.Max(peak.Managed, now.Managed), Native = Math.Max(peak.Native, now.Native) };
                if (now.Allocated - start.Allocated >= AllocationTarget) { stop.Cancel(); break; }
                try { await Task.Delay(250, stop.Token); } catch (OperationCanceledException) { }
            }
        });
        var clients = Enumerable.Range(0, Clients).Select(c => GenerateAsync(client, int.MaxValue, c * 1_000_000L, stop.Token)).ToArray();
        await sampler;
        int generated = (await Task.WhenAll(clients)).Sum();
        var end = await SampleAsync(client);

        long allocated = end.Allocated - start.Allocated;
        Assert.True(allocated >= AllocationTarget, $"only {allocated >> 20} MiB allocated by {generated} images in the time allowed");
        string seen = $"{generated} images, {allocated >> 20} MiB allocated; managed {start.Managed >> 20} → peak {peak.Managed >> 20} MiB, " +
            $"native {start.Native >> 20} → peak {peak.Native >> 20} MiB; {end.GateCollections - start.GateCollections} collections between steps, " +
            $"{end.HeapTrims - start.HeapTrims} heap trims";
        output.WriteLine(seen);
        Assert.True(end.GateCollections > start.GateCollections, "no collection ran between steps: " + seen);
        Assert.True(end.HeapTrims >= 0, "/metrics has no detailflow_memory_native_trims_total");
        Assert.True(peak.Managed - start.Managed < 64L << 20, "managed garbage piled up: " + seen);
        Assert.True(peak.Native - start.Native < 24L << 20, "native memory piled up: " + seen);
    }

    private static async Task<int> GenerateAsync(HttpClient client, int images, long seedBase, CancellationToken ct)
    {
        int done = 0;
        try
        {
            for (long i = 0; i < images && !ct.IsCancellationRequested; i++)
            {
                using var response = await client.PostAsJsonAsync("/v1/generate", new { @class = (int)(i % 10), seed = seedBase + i }, ct);
                response.EnsureSuccessStatusCode();
                await response.Content.ReadAsByteArrayAsync(ct);
                done++;
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested) { }
        return done;
    }

    private sealed record Sample(long Managed, long Native, long Allocated, long GateCollections, long HeapTrims);

    private static async Task<Sample> SampleAsync(HttpClient client)
    {
        string metrics = await client.GetStringAsync("/metrics");
        long Value(string name) => (long)metrics.Split('\n')
            .Where(l => l.StartsWith(name, StringComparison.Ordinal) && (l.Length == name.Length || l[name.Length] is ' ' or '{'))
            .Select(l => double.Parse(l[(l.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture)).Sum();
        return new Sample(Value("detailflow_memory_managed_bytes"), Value("detailflow_memory_native_bytes"),
            Value("dotnet_gc_heap_total_allocated_bytes_total"), Value("detailflow_gc_step_gate_collections_total"),
            metrics.Contains("detailflow_memory_native_trims_total", StringComparison.Ordinal) ? Value("detailflow_memory_native_trims_total") : -1);
    }
}
