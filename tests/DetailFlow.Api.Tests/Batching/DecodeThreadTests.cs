using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Net;
using System.Net.Http.Json;
using DetailFlow.Api.Hosting;
using DetailFlow.Core.Decoding;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using static TorchSharp.torch;

namespace DetailFlow.Api.Tests;

[Collection(HeldDecoderCallsCollection.Name)]
public sealed class DecodeThreadTests(GatedDecoderFactory api) : IClassFixture<GatedDecoderFactory>
{
    [Fact]
    public async Task Decoding_RunsOnTheDecodeThread_AndABlockedDecodeDoesNotHoldUpTheSteps()
    {
        var decoder = api.Decoder!;
        var telemetry = api.Services.GetRequiredService<DetailFlowTelemetry>();
        int steps = 0;
        using var listener = new MeterListener
        {
            InstrumentPublished = (instrument, l) => { if (ReferenceEquals(instrument, telemetry.StepTime)) l.EnableMeasurementEvents(instrument); },
        };
        listener.SetMeasurementEventCallback<double>((_, _, _, _) => Interlocked.Increment(ref steps));
        listener.Start();
        using var client = api.Client();
        decoder.Threads.Clear();   // the warm-up decode ran on the loading thread

        // One request alone: the steps of a whole generation.
        (await client.PostAsJsonAsync("/v1/generate", ApiFactory.Body(seed: 4401))).EnsureSuccessStatusCode();
        int perImage = Volatile.Read(ref steps);
        Assert.True(perImage >= 8, $"{perImage} steps for 32 codes");

        // A's final decode blocks the decode thread; B is generated meanwhile, step for step.
        decoder.Close();
        try
        {
            var a = client.PostAsJsonAsync("/v1/generate", ApiFactory.Body(seed: 4402));
            Assert.True(await decoder.Entered.WaitAsync(TimeSpan.FromSeconds(30)), "A's decode never started");
            int before = Volatile.Read(ref steps);
            var b = client.PostAsJsonAsync("/v1/generate", ApiFactory.Body(seed: 4403));
            await Eventually(() => Volatile.Read(ref steps) - before, ran => ran >= perImage, TimeSpan.FromSeconds(15),
                $"while A's decode was blocked B never ran its {perImage} steps (steps run shown)");
            Assert.False(a.IsCompleted || b.IsCompleted, "a result arrived although its decode is blocked");

            decoder.Open();
            foreach (var response in await Task.WhenAll(a, b).WaitAsync(TimeSpan.FromSeconds(30)))
            {
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
                Assert.Equal("image/png", response.Content.Headers.ContentType?.MediaType);
            }
        }
        finally
        {
            decoder.Open();
        }
        Assert.NotEmpty(decoder.Threads);
        Assert.All(decoder.Threads, name => Assert.Equal("detailflow-decode", name));
    }
}
