using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Net;
using System.Net.Http.Json;
using System.Net.ServerSentEvents;
using System.Text.Json;
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

    [Fact]
    public async Task AStreamsFirstPreview_IsDecodedByTheInferenceThread_WhileTheDecodeThreadIsHeld()
    {
        var decoder = api.Decoder!;
        using var client = api.Client();
        decoder.Close(thread: "detailflow-decode");
        try
        {
            // A's final decode holds the decode thread; B streams meanwhile.
            var a = client.PostAsJsonAsync("/v1/generate", ApiFactory.Body(seed: 4411));
            Assert.True(await decoder.Entered.WaitAsync(TimeSpan.FromSeconds(30)), "A's decode never started");
            decoder.Threads.Clear();
            using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/generate/stream")
            {
                Content = JsonContent.Create(new { @class = 2, seed = 4412, previews = "all" }),
            };
            using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
            await using var stream = await response.Content.ReadAsStreamAsync();
            var events = SseParser.Create(stream).EnumerateAsync().GetAsyncEnumerator();
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            string? first = null;
            while (first is null && await events.MoveNextAsync().AsTask().WaitAsync(timeout.Token))
                if (events.Current.EventType == "preview") first = events.Current.Data;
            Assert.NotNull(first);
            Assert.Equal(1, JsonDocument.Parse(first).RootElement.GetProperty("tokens").GetInt32());   // "all": the first code's preview
            Assert.False(a.IsCompleted, "A finished although its decode is held");
            Assert.Equal(["detailflow-inference"], decoder.Threads);

            // Its later previews and final image come from the decode thread once it is free, in order.
            decoder.Open();
            var tokens = new List<int>();
            string? last = null;
            while (await events.MoveNextAsync().AsTask().WaitAsync(timeout.Token))
            {
                last = events.Current.EventType;
                if (last == "preview") tokens.Add(JsonDocument.Parse(events.Current.Data).RootElement.GetProperty("tokens").GetInt32());
            }
            await events.DisposeAsync();
            Assert.Equal("completed", last);
            Assert.NotEmpty(tokens);
            Assert.True(tokens[0] > 1 && tokens.SequenceEqual(tokens.Order()), $"later previews at [{string.Join(", ", tokens)}]");
            Assert.Equal(HttpStatusCode.OK, (await a.WaitAsync(TimeSpan.FromSeconds(30))).StatusCode);
            Assert.Contains("detailflow-decode", decoder.Threads);
        }
        finally
        {
            decoder.Open();
        }
    }
}
