using DetailFlow.Core.Generation;
using DetailFlow.Core.Gpt;
using TorchSharp;
using static DetailFlow.Core.Tests.Generation.EngineRuns;

namespace DetailFlow.Core.Tests.Generation;

/// <summary>A request's eager codes (a stream's first preview) drawn in steps apart from batch mates feeding groups.</summary>
public class EagerRowsTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void AnEagerNewcomer_StepsApartFromBatchMatesFeedingGroups_AndDrawsTheCodesItDrawsAlone(bool onePass)
    {
        using var model = RandomGpt.Build(4, 8, 32, seed: 51);
        model.OnePassAttentionRows = onePass ? 8 : 0;
        var early = Request(1, new SamplingOptions { Seed = 1, CfgScale = 2.0 });
        var eager = Request(4, new SamplingOptions { Seed = 9, CfgScale = 1.5, TopK = 12 }) with { EagerCodes = 5 };
        // Admitted after it, done with its eager codes first: the longer one's rows then move past its filled ones.
        var brief = Request(2, new SamplingOptions { Seed = 6, CfgScale = 3.0 }) with { EagerCodes = 3 };
        var plain = Request(5, new SamplingOptions { Seed = 4, CfgScale = 1.0 });   // one cache row, admitted after the eager ones

        GenerationRequest[] requests = [early, eager, brief, plain];
        long vocab = model.Config.VocabSize;
        var aloneLogits = requests.Select(_ => new StepLogits(32, vocab)).ToArray();
        var alone = requests.Select((r, i) => Alone(model, r with { StepLogits = aloneLogits[i] })).ToArray();
        using var engine = new NextDetailEngine(model, maxRows: 8) { EagerCostRatio = 0 };
        long live = 0;
        try
        {
            for (int run = 0; run < 2; run++)
            {
                var logits = requests.Select(_ => new StepLogits(32, vocab)).ToArray();
                var log = new StepLog();
                var rows = new GenerationRow[4];
                rows[0] = engine.Submit(log.Track(early with { StepLogits = logits[0] }, "early"));
                log.Run(engine, 10);   // early: 8 causal steps, then groups
                for (int i = 1; i < 4; i++) rows[i] = engine.Submit(log.Track(requests[i] with { StepLogits = logits[i] }, i.ToString()));
                log.RunUntilIdle(engine);
                if (run == 0) live = LiveTensors;
                else Assert.Equal(live, LiveTensors);   // the eager steps' cache views are disposed

                Assert.Equal([11, 12, 13, 14, 15, 16], log.Steps["1"].Take(6));   // its 5 eager codes on its own, then with the others
                Assert.Equal([11, 12, 13, 16], log.Steps["2"].Take(4));
                Assert.DoesNotContain(log.Steps["early"], s => s is >= 11 and <= 15);
                Assert.Equal(16, log.Steps["early"].First(s => s > 10));
                Assert.Equal(16, log.Steps["3"][0]);
                Assert.Equal(5 * (run + 1), engine.EagerSteps);
                Console.Error.WriteLine("codes " + string.Join(" / ", rows.Select(r => string.Join(",", Done(r).Take(4))))); Assert.Equal(alone, rows.Select(Done));
                for (int i = 0; i < 4; i++)
                {
                    AssertClose(aloneLogits[i].Guided, logits[i].Guided, 1e-4);
                    AssertClose(aloneLogits[i].Uncond, logits[i].Uncond, 1e-4);
                }
                Assert.Equal(0, engine.RowsInUse);
                foreach (var r in logits) r.Dispose();
            }
        }
        finally
        {
            foreach (var r in aloneLogits) r.Dispose();
        }
    }

    [Fact]
    public void WithTheRatioUnreachable_TheEagerNewcomerRidesAlong()
    {
        using var model = RandomGpt.Build(4, 8, 32, seed: 51);
        using var engine = new NextDetailEngine(model, maxRows: 8) { EagerCostRatio = double.PositiveInfinity };
        var log = new StepLog();
        var rowEarly = engine.Submit(log.Track(Request(1, new SamplingOptions { Seed = 1, CfgScale = 2.0 }), "early"));
        log.Run(engine, 10);
        var eager = Request(4, new SamplingOptions { Seed = 9, CfgScale = 1.5 }) with { EagerCodes = 5 };
        var rowEager = engine.Submit(log.Track(eager, "eager"));
        log.RunUntilIdle(engine);
        Assert.Equal(0, engine.EagerSteps);
        Assert.Equal([11, 12, 13, 14], log.Steps["early"].Where(s => s > 10));   // its last four groups, beside the newcomer's first codes
        Assert.Equal(Alone(model, eager), Done(rowEager));
        Assert.True(rowEarly.Completion.IsCompletedSuccessfully);
    }

    [Fact]
    public void NewcomersArrivingOneAfterAnother_HoldTheBatchBackForAtMostTheirEagerCodesInARow()
    {
        using var model = RandomGpt.Build(4, 8, 64, seed: 53);
        using var engine = new NextDetailEngine(model, maxRows: 32) { EagerCostRatio = 0 };
        var log = new StepLog();
        var early = Request(1, new SamplingOptions { Seed = 1, CfgScale = 2.0 });
        var rowEarly = engine.Submit(log.Track(early, "early"));
        log.Run(engine, 10);
        var newcomers = Enumerable.Range(0, 8)
            .Select(i => Request(i % 6, new SamplingOptions { Seed = 100 + i, CfgScale = 1.0 }) with { EagerCodes = 3 }).ToList();
        var rows = new List<GenerationRow>();
        foreach (var request in newcomers)
        {
            rows.Add(engine.Submit(request));   // one more every step: the eager rows never run out on their own
            log.Run(engine, 1);
        }
        log.RunUntilIdle(engine);

        Assert.True(engine.EagerSteps >= 3, $"{engine.EagerSteps} eager steps");
        var seen = log.Steps["early"].Where(s => s >= 10).ToList();
        Assert.All(seen.Zip(seen.Skip(1)), p => Assert.InRange(p.Second - p.First, 1, 4));   // 3 eager steps at most, then one with all
        Assert.Equal(Alone(model, early), Done(rowEarly));
        for (int i = 0; i < rows.Count; i++) Assert.Equal(Alone(model, newcomers[i]), Done(rows[i]));
    }

    [Fact]
    public void EagerCodes_BeyondTheDetail_AreRefusedBeforeAnyTensorWork()
    {
        using var model = RandomGpt.Build(4, 8, 32, seed: 51);
        using var engine = new NextDetailEngine(model, maxRows: 2);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() =>
            engine.Submit(Request(1, new SamplingOptions()) with { Detail = 8, EagerCodes = 9 }));
        Assert.Equal("EagerCodes", e.ParamName);
        Assert.Throws<ArgumentOutOfRangeException>(() => engine.Submit(Request(1, new SamplingOptions()) with { EagerCodes = -1 }));
        Assert.Equal(0, engine.PendingRequests);
    }

    [Fact]
    public void StepCosts_BoundAForwardByTheMeasuredOnes_NoCheaperForMorePositions_NoDearerPerPosition()
    {
        var costs = new StepCosts();
        Assert.False(costs.Exceeds(256, 2, 3));   // nothing measured: ride along
        Assert.True(costs.Exceeds(256, 2, 0));
        costs.Record(256, 0.6);
        Assert.False(costs.Exceeds(256, 2, 3));   // one measurement: 256 positions ≥ 0.6 s, 2 positions ≤ 0.6 s
        costs.Record(32, 0.1);
        Assert.True(costs.Exceeds(256, 2, 5.9));  // ≥ 0.6 against ≤ 0.1
        Assert.False(costs.Exceeds(256, 2, 6.1));
        Assert.True(costs.Exceeds(240, 2, 5.5));  // 240 positions: ≥ 0.6 · 240 / 256 = 0.5625 (no dearer per position than 256)
        Assert.False(costs.Exceeds(240, 2, 5.7));
        Assert.False(costs.Exceeds(16, 2, 1.1));  // 16 positions: ≥ 0.1 · 16 / 32 = 0.05 only
        costs.Record(2, 0.05);
        Assert.True(costs.Exceeds(256, 2, 11.9)); // ≤ 0.05 now
        Assert.True(costs.Exceeds(256, 4, 5.9));  // 4 positions: ≤ 0.05 · 4 / 2 = 0.1
        Assert.False(costs.Exceeds(256, 4, 6.1));
        costs.Record(256, 0.1);                   // a moving average: 0.6 + 0.3 · (0.1 − 0.6) = 0.45
        Assert.True(costs.Exceeds(256, 2, 8.9));
        Assert.False(costs.Exceeds(256, 2, 9.1));
    }

    private sealed class StepLog
    {
        private int _step;
        public Dictionary<string, List<int>> Steps { get; } = [];

        public GenerationRequest Track(GenerationRequest request, string name)
        {
            Steps[name] = [];
            return request with { Progress = _ => Steps[name].Add(_step) };
        }

        public void Run(NextDetailEngine engine, int steps)
        {
            for (int i = 0; i < steps; i++) { _step++; engine.Step(); }
        }

        public void RunUntilIdle(NextDetailEngine engine)
        {
            do _step++; while (engine.Step());
        }
    }
}
