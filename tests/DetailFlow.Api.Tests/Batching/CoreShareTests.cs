using System.Collections.Concurrent;
using System.Net.Http.Json;
using DetailFlow.Api.Batching;
using DetailFlow.Api.Hosting;
using DetailFlow.Core.Runtime;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;

namespace DetailFlow.Api.Tests;

public sealed class CoreShareTests
{
    [Fact]
    public void Shared_EachThreadRunsOnEveryCoreWhileTheOtherIsIdle_AndOnItsShareWhileBothWork()
    {
        var cores = new CoreShare(cores: 4, engineThreads: 3, decodeThreads: 1, shared: true);
        Assert.Equal(4, cores.BeginStep());        // nothing decoding
        Assert.Equal(1, cores.BeginDecode());      // steps running
        Assert.Equal(3, cores.BeginStep());        // a decode in flight
        cores.EndDecode();
        Assert.Equal(4, cores.BeginStep());
        cores.EndSteps();
        Assert.Equal(4, cores.BeginDecode());      // no step running
        cores.EndDecode();
        Assert.Equal([3, 4], cores.StepCounts);
        Assert.Equal([1, 4], cores.DecodeCounts);
    }

    [Fact]
    public void GivenCounts_OrOneCore_AreKeptWhateverTheOtherThreadDoes()
    {
        var fixedCounts = new CoreShare(cores: 4, engineThreads: 2, decodeThreads: 2, shared: false);
        Assert.Equal(2, fixedCounts.BeginStep());
        fixedCounts.EndSteps();
        Assert.Equal(2, fixedCounts.BeginDecode());
        Assert.Equal([2], fixedCounts.StepCounts);
        Assert.Equal([2], fixedCounts.DecodeCounts);

        var oneCore = new CoreShare(cores: 1, engineThreads: 1, decodeThreads: 1, shared: true);
        Assert.Equal(1, oneCore.BeginStep());
        oneCore.EndSteps();
        Assert.Equal(1, oneCore.BeginDecode());
        Assert.Equal([1], oneCore.StepCounts);
    }

    [Fact]
    public void ThePlan_SharesOnlyCountsItChose()
    {
        var planned = new ModelOptions { GptPath = "g", TokenizerPath = "t" };
        ServingPlan.Apply(planned);
        Assert.Equal(Environment.ProcessorCount > 1, planned.CoresShared);
        foreach (var given in new[] { new ModelOptions { Threads = 1 }, new ModelOptions { DecodeThreads = 1 } })
        {
            ServingPlan.Apply(given);
            Assert.False(given.CoresShared);
        }
    }
}

/// <summary>The service with the thread counts left to the plan: what the steps and the decodes really ran with.</summary>
[Collection(HeldDecoderCallsCollection.Name)]
public sealed class SharedCoresTests(SharedCoresTests.Factory api) : IClassFixture<SharedCoresTests.Factory>
{
    public sealed class Factory : ApiFactory
    {
        public GatedDecoder? Decoder { get; private set; }
        public ThreadsAtStep Steps { get; } = new();

        protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
        {
            ["ModelOptions:Threads"] = "0", ["ModelOptions:DecodeThreads"] = "0",
            ["ModelOptions:DecodeRowsPerCall"] = "1",   // one image per decoder call
        };

        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            base.ConfigureWebHost(builder);
            builder.ConfigureServices(services =>
            {
                services.AddSingleton<IStepGate>(Steps);
                services.AddSingleton<DecoderBackendFactory>((options, tokenizer) => Decoder = new GatedDecoder(ModelLoader.CreateDecoder(options, tokenizer)));
            });
        }
    }

    /// <summary>Records the inference thread's torch threads before each step; <see cref="Delay"/> makes each step that much longer.</summary>
    public sealed class ThreadsAtStep : IStepGate
    {
        public ConcurrentQueue<int> Counts { get; } = new();
        public TimeSpan Delay { get; set; }

        public void BeforeStep()
        {
            Counts.Enqueue(TorchSharp.torch.get_num_threads());
            if (Delay > TimeSpan.Zero) Thread.Sleep(Delay);
        }
    }

    [Fact]
    public async Task ALoneRequest_StepsAndDecodesOnEveryCore_AndStepsBesideADecodeKeepTheirShare()
    {
        var plan = ServingPlan.ForThisMachine();
        int cores = Environment.ProcessorCount;
        using var client = api.Client();
        var decoder = api.Decoder!;
        api.Steps.Counts.Clear();
        decoder.ThreadCounts.Clear();

        (await client.PostAsJsonAsync("/v1/generate", ApiFactory.Body(seed: 4501))).EnsureSuccessStatusCode();
        Assert.NotEmpty(api.Steps.Counts);
        Assert.All(api.Steps.Counts, n => Assert.Equal(cores, n));
        Assert.Equal([cores], decoder.ThreadCounts);

        // A's final decode is held open; B's steps run beside it on the engine's share only.
        decoder.Close();
        try
        {
            var a = client.PostAsJsonAsync("/v1/generate", ApiFactory.Body(seed: 4502));
            Assert.True(await decoder.Entered.WaitAsync(TimeSpan.FromSeconds(30)), "A's decode never started");
            api.Steps.Counts.Clear();
            var b = client.PostAsJsonAsync("/v1/generate", ApiFactory.Body(seed: 4503));
            await Eventually(() => api.Steps.Counts.Count, n => n >= 8, TimeSpan.FromSeconds(15), "B's steps did not run while A's decode was held");
            Assert.All(api.Steps.Counts.Take(8), n => Assert.Equal(plan.EngineThreads, n));
            decoder.Open();
            foreach (var response in await Task.WhenAll(a, b).WaitAsync(TimeSpan.FromSeconds(30))) response.EnsureSuccessStatusCode();
        }
        finally
        {
            decoder.Open();
        }
    }

    [Fact]
    public async Task ACollectionDueBesideADecode_HoldsTheStepsForOneDecoderCall_NotForTheWholeBatch()
    {
        using var client = api.Client();
        var decoder = api.Decoder!;
        decoder.Close();
        try
        {
            // A: two images of 8 codes, two decoder calls; its first call is held.
            var a = client.PostAsJsonAsync("/v1/generate", ApiFactory.Body(seed: 4521, n: 2, tokens: 8));
            Assert.True(await decoder.Entered.WaitAsync(TimeSpan.FromSeconds(30)), "A's decode never started");
            // Enough managed allocation that the GC guard collects before the next step (with no step or call in flight).
            for (int i = 0; i < 3; i++) GC.KeepAlive(new byte[ScalarGcGuard.CollectAfterBytes / 2]);
            api.Steps.Counts.Clear();
            var b = client.PostAsJsonAsync("/v1/generate", ApiFactory.Body(seed: 4522, tokens: 32));
            await Eventually(() => api.Steps.Counts.Count, n => n >= 1, TimeSpan.FromSeconds(15), "B never reached its first step");

            decoder.Pass();                                                   // A's first call ends, its second is held
            Assert.True(await decoder.Entered.WaitAsync(TimeSpan.FromSeconds(30)), "A's second call never started");
            await Eventually(() => api.Steps.Counts.Count, n => n >= 3, TimeSpan.FromSeconds(15),
                "B's steps waited for A's whole batch instead of one decoder call");
            decoder.Open();
            foreach (var response in await Task.WhenAll(a, b).WaitAsync(TimeSpan.FromSeconds(30))) response.EnsureSuccessStatusCode();
        }
        finally
        {
            decoder.Open();
        }
    }

    [Fact]
    public async Task ABatchBegunBesideSteps_TakesEveryCoreFromItsFirstCallAfterTheStepsEnd()
    {
        var plan = ServingPlan.ForThisMachine();
        int cores = Environment.ProcessorCount;
        using var client = api.Client();
        var decoder = api.Decoder!;
        decoder.Close();
        decoder.ThreadCounts.Clear();
        api.Steps.Delay = TimeSpan.FromMilliseconds(25);
        try
        {
            // A (two images of 8 codes: two decoder calls) ends first; B (32 codes) is still stepping when A's batch begins.
            var b = client.PostAsJsonAsync("/v1/generate", ApiFactory.Body(seed: 4512, tokens: 32));
            var a = client.PostAsJsonAsync("/v1/generate", ApiFactory.Body(seed: 4511, n: 2, tokens: 8));
            Assert.True(await decoder.Entered.WaitAsync(TimeSpan.FromSeconds(30)), "A's decode never started");
            decoder.ThreadCounts.TryPeek(out int first);
            // B's steps run out while A's first call is held.
            int seen = -1;
            await Eventually(async () => { int now = api.Steps.Counts.Count; bool still = now == seen; seen = now; await Task.Delay(300); return still; },
                still => still, TimeSpan.FromSeconds(15), "B's steps never ended");
            decoder.Open();
            foreach (var response in await Task.WhenAll(a, b).WaitAsync(TimeSpan.FromSeconds(30))) response.EnsureSuccessStatusCode();
            Assert.Equal(plan.DecodeThreads, first);                          // beside B's steps: the decoder's share
            Assert.Equal([first, cores, cores], decoder.ThreadCounts.Take(3));   // A's second call and B's image: every core
        }
        finally
        {
            api.Steps.Delay = TimeSpan.Zero;
            decoder.Open();
            decoder.ThreadCounts.Clear();
        }
    }
}
