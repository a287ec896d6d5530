using Xunit.Abstractions;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

namespace DetailFlow.Api.Tests;

/// <summary>
/// SIGKILL one replica while both are under load: every 200 carries a whole PNG, the killed replica's clients see
/// connection errors (never a 200 with a broken body, never a 5xx), the survivor keeps serving, and every result A
/// completed before it died is still served by B from the shared cache (same bytes, a hit).
/// </summary>
public sealed class ReplicaKillTests(ITestOutputHelper log)
{
    private sealed record Outcome(string Replica, long Seed, HttpStatusCode? Status, byte[]? Png, string? Cache, TimeSpan At, string? Error);

    private readonly int[] Completed = new int[2];   // 200s so far: [0] A, [1] B

    private async Task<List<Outcome>> LoadAsync(ServiceProcess replica, HttpClient client, long firstSeed, Func<bool> stop, Stopwatch clock)
    {
        var outcomes = new List<Outcome>();
        for (long seed = firstSeed; !stop(); seed++)
        {
            try
            {
                using var response = await client.PostAsJsonAsync("/v1/generate", ApiFactory.Body(seed: seed, tokens: 32));
                var body = await response.Content.ReadAsByteArrayAsync();
                outcomes.Add(new Outcome(replica.Name, seed, response.StatusCode, body,
                    response.Headers.TryGetValues("X-Cache", out var c) ? c.Single() : null, clock.Elapsed, null));
                if (response.StatusCode == HttpStatusCode.OK) Interlocked.Increment(ref Completed[replica.Name == "A" ? 0 : 1]);
            }
            catch (Exception e) when (e is HttpRequestException or IOException)
            {
                outcomes.Add(new Outcome(replica.Name, seed, null, null, null, clock.Elapsed, e.GetType().Name + ": " + e.Message));
                await Task.Delay(20);
            }
        }
        return outcomes;
    }

    [Fact]
    public async Task KillingOneReplicaUnderLoad_LosesNoCompletedResult()
    {
        var replicas = ReplicaSet.With(new Dictionary<string, string> { ["BatcherOptions__MaxRows"] = "4" });
        await replicas.InitializeAsync();
        try
        {
            var (a, b) = (replicas.A, replicas.B);
            using var clientA = a.Client(TimeSpan.FromSeconds(30));
            using var clientB = b.Client(TimeSpan.FromSeconds(30));
            var clock = Stopwatch.StartNew();
            bool stop = false;
            var load = Enumerable.Range(0, 3).SelectMany(c => new[]
            {
                LoadAsync(a, clientA, 1_000_000 * (c + 1), () => Volatile.Read(ref stop), clock),
                LoadAsync(b, clientB, 1_000_000 * (c + 1) + 500_000, () => Volatile.Read(ref stop), clock),
            }).ToList();

            // Kill A once both replicas are well into the load (progress, not time: the machine may be busy).
            await Eventually(() => Volatile.Read(ref Completed[0]) >= 6 && Volatile.Read(ref Completed[1]) >= 6, TimeSpan.FromSeconds(60), "both replicas never completed 6 requests");
            var killedAt = clock.Elapsed;
            a.Kill();
            Assert.NotNull(await a.WaitForExitAsync(TimeSpan.FromSeconds(10)));
            int bAtKill = Volatile.Read(ref Completed[1]);
            await Eventually(() => Volatile.Read(ref Completed[1]), n => n >= bAtKill + 6, TimeSpan.FromSeconds(60), "B stopped serving after A was killed (B's completions shown)");
            Volatile.Write(ref stop, true);
            var outcomes = (await Task.WhenAll(load)).SelectMany(o => o).ToList();

            var fromA = outcomes.Where(o => o.Replica == "A").ToList();
            var fromB = outcomes.Where(o => o.Replica == "B").ToList();
            log.WriteLine($"killed A at {killedAt.TotalSeconds:F1} s; A: {fromA.Count(o => o.Status == HttpStatusCode.OK)} ok, " +
                $"{fromA.Count(o => o.Error is not null)} connection errors; B: {fromB.Count(o => o.Status == HttpStatusCode.OK)} ok " +
                $"({fromB.Count(o => o.Status == HttpStatusCode.OK && o.At > killedAt)} after the kill), {fromB.Count(o => o.Error is not null)} errors");
            // Whatever answered 200 is a whole image; nothing answered anything else but a connection error.
            Assert.All(outcomes, o => Assert.True(o.Status is null or HttpStatusCode.OK, $"{o.Replica} seed {o.Seed}: {o.Status}"));
            Assert.All(outcomes.Where(o => o.Status == HttpStatusCode.OK), o => Assert.Equal((32, 32), PngInfo.Size(o.Png!)));
            var completedOnA = fromA.Where(o => o.Status == HttpStatusCode.OK).ToList();
            Assert.NotEmpty(completedOnA);
            Assert.Contains(fromA, o => o.Error is not null);   // A's clients saw the crash as connection errors
            Assert.All(fromA.Where(o => o.Error is not null), o => Assert.True(o.At >= killedAt, $"error before the kill: {o.Error}"));
            Assert.DoesNotContain(fromB, o => o.Error is not null);
            Assert.Contains(fromB, o => o.Status == HttpStatusCode.OK && o.At > killedAt);   // B kept serving

            // No completed result is lost: each image A delivered is served by B from the shared cache, byte for byte.
            using var check = b.Client();
            foreach (var done in completedOnA)
            {
                var again = await check.PostAsJsonAsync("/v1/generate", ApiFactory.Body(seed: done.Seed, tokens: 32));
                Assert.Equal(HttpStatusCode.OK, again.StatusCode);
                Assert.Equal("hit", again.Headers.GetValues("X-Cache").Single());
                Assert.Equal(done.Png, await again.Content.ReadAsByteArrayAsync());
            }
        }
        finally
        {
            await replicas.DisposeAsync();
        }
    }
}
