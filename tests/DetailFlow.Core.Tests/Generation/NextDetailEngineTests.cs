using DetailFlow.Core.Generation;
using DetailFlow.Core.Gpt;
using TorchSharp;
using static DetailFlow.Core.Tests.Generation.EngineRuns;

namespace DetailFlow.Core.Tests.Generation;

public class NextDetailEngineTests
{
    private static readonly SamplingOptions Greedy = new() { Greedy = true, CfgScale = 2.0 };

    public static TheoryData<int, int, int> Shapes() => new()
    {
        { 4, 4, 32 },   // G, C, N like the tiny fixtures
        { 4, 8, 32 },
        { 2, 2, 16 },
        { 8, 8, 64 },   // the released G = C = 8
        { 8, 16, 48 },
        { 3, 6, 24 },
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void KvCached_EqualsRecompute_Greedy(int g, int c, int n) => AssertKvCachedEqualsRecompute(g, c, n, onePass: false);

    [Theory]
    [MemberData(nameof(Shapes))]
    public void KvCachedAttendingInOnePass_EqualsRecompute_Greedy(int g, int c, int n) => AssertKvCachedEqualsRecompute(g, c, n, onePass: true);

    private static void AssertKvCachedEqualsRecompute(int g, int c, int n, bool onePass)
    {
        using var model = RandomGpt.Build(g, c, n, seed: g * 100 + c + n);
        model.OnePassAttentionRows = onePass ? 8 : 0;
        SamplingOptions[] options = [Greedy, Greedy with { CfgScale = 4.0, GradualCfg = true }, Greedy with { CfgScale = 1.0 }];
        long[] classes = [0, 3, 5];
        var expectedLogits = classes.Select(_ => new StepLogits(n, model.Config.VocabSize)).ToList();
        var actualLogits = classes.Select(_ => new StepLogits(n, model.Config.VocabSize)).ToList();
        try
        {
            var expected = new RecomputeSampler(model).Generate(classes, options, record: expectedLogits);
            using var engine = new NextDetailEngine(model, maxRows: 8);
            var actual = engine.Generate(classes.Select((k, i) => new GenerationRequest { ClassLabel = k, Options = options[i], StepLogits = actualLogits[i] }).ToList());
            Assert.Equal(expected, actual);
            Assert.Equal(onePass, engine.OnePassSteps > 0);
            for (int i = 0; i < classes.Length; i++)
            {
                AssertClose(expectedLogits[i].Guided, actualLogits[i].Guided, 1e-4);
                AssertClose(expectedLogits[i].Uncond, actualLogits[i].Uncond, 1e-4);
            }
            Assert.Equal(0, engine.RowsInUse);
        }
        finally
        {
            foreach (var r in expectedLogits.Concat(actualLogits)) r.Dispose();
        }
    }

    [Theory]
    [InlineData(4, 4, 32)]
    [InlineData(8, 8, 64)]
    public void KvCached_EqualsRecompute_SampledWithTheSameSeeds(int g, int c, int n)
    {
        using var model = RandomGpt.Build(g, c, n, seed: 5);
        SamplingOptions[] options =
        [
            new() { Seed = 11, CfgScale = 1.5 },
            new() { Seed = 12, CfgScale = 3.0, TopK = 10, TopP = 0.9, Temperature = 1.3 },
            new() { Seed = 13, CfgScale = 1.0, Temperature = 0.7 },
        ];
        long[] classes = [2, 2, 4];
        var expected = new RecomputeSampler(model).Generate(classes, options);
        using var engine = new NextDetailEngine(model, maxRows: 6);
        var actual = engine.Generate(classes.Select((k, i) => new GenerationRequest { ClassLabel = k, Options = options[i] }).ToList());
        Assert.Equal(expected, actual);
        Assert.NotEqual(actual[0], actual[1]);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Row_JoiningMidFlight_GetsTheSameCodesAsWhenRunAlone(bool greedy)
    {
        using var model = RandomGpt.Build(4, 8, 32, seed: 21);
        var a = Request(1, new SamplingOptions { Seed = 1, Greedy = greedy });
        var b = Request(2, new SamplingOptions { Seed = 2, Greedy = greedy, CfgScale = 1.0 });
        var late = Request(3, new SamplingOptions { Seed = 3, Greedy = greedy, CfgScale = 2.5, GradualCfg = true });
        using var engine = new NextDetailEngine(model, maxRows: 8);
        var rowA = engine.Submit(a);
        var rowB = engine.Submit(b);
        for (int i = 0; i < 9; i++) engine.Step();     // A and B are past the causal phase (C = 8)
        Assert.Equal(3, engine.RowsInUse);
        var rowLate = engine.Submit(late);
        engine.RunUntilIdle();

        Assert.Equal(Alone(model, a), Done(rowA));
        Assert.Equal(Alone(model, b), Done(rowB));
        Assert.Equal(Alone(model, late), Done(rowLate));
        Assert.Equal(new RecomputeSampler(model).Generate([3], [late.Options])[0], Done(rowLate));
    }

    [Theory]
    [InlineData(true, false)]
    [InlineData(false, false)]
    [InlineData(true, true)]
    [InlineData(false, true)]
    public void MixedSteps_RunPacked_AndEveryRowsLogitsEqualRunningAlone(bool greedy, bool onePass)
    {
        // G = 4, C = 8, N = 64: the early request is in its group phase (4-position blocks) during all 8 one-position
        // steps of the newcomer (class token + 7 causal codes), so exactly those 8 steps are mixed and run packed.
        using var model = RandomGpt.Build(4, 8, 64, seed: 23);
        model.OnePassAttentionRows = onePass ? 8 : 0;
        long vocab = model.Config.VocabSize;
        var early = Request(1, new SamplingOptions { Seed = 1, Greedy = greedy, CfgScale = 2.0 });
        var late = Request(4, new SamplingOptions { Seed = 9, Greedy = greedy, CfgScale = 1.5, TopK = 12 });
        var plain = Request(5, new SamplingOptions { Seed = 4, Greedy = greedy, CfgScale = 1.0 });   // one cache row
        GenerationRequest[] requests = [early, late, plain];
        var batched = requests.Select(_ => new StepLogits(64, vocab)).ToArray();
        var alone = requests.Select(_ => new StepLogits(64, vocab)).ToArray();
        try
        {
            using var engine = new NextDetailEngine(model, maxRows: 8, minPackedSavingFlops: 0);
            var rowEarly = engine.Submit(early with { StepLogits = batched[0] });
            for (int i = 0; i < 10; i++) engine.Step();
            Assert.Equal(0, engine.PackedSteps);
            var rowLate = engine.Submit(late with { StepLogits = batched[1] });
            var rowPlain = engine.Submit(plain with { StepLogits = batched[2] });
            engine.RunUntilIdle();
            Assert.Equal(8, engine.PackedSteps);
            Assert.Equal(onePass, engine.OnePassSteps > 0);

            GenerationRow[] rows = [rowEarly, rowLate, rowPlain];
            for (int i = 0; i < requests.Length; i++)
            {
                using var solo = new NextDetailEngine(model, maxRows: 2);
                Assert.Equal(solo.Generate([requests[i] with { StepLogits = alone[i] }])[0], Done(rows[i]));
                Assert.Equal(0, solo.PackedSteps);
                AssertClose(alone[i].Guided, batched[i].Guided, 1e-4);
                AssertClose(alone[i].Cond, batched[i].Cond, 1e-4);
                AssertClose(alone[i].Uncond, batched[i].Uncond, 1e-4);
            }
            Assert.Equal(new RecomputeSampler(model).Generate([4], [late.Options])[0], Done(rowLate));
        }
        finally
        {
            foreach (var r in batched.Concat(alone)) r.Dispose();
        }
    }

    [Fact]
    public void PackedAndPaddedMixedSteps_GiveTheSameCodesAndLogits()
    {
        using var model = RandomGpt.Build(8, 8, 64, seed: 29);
        long vocab = model.Config.VocabSize;
        GenerationRequest[] requests =
        [
            Request(1, new SamplingOptions { Seed = 1, CfgScale = 2.0 }),
            Request(2, new SamplingOptions { Seed = 2, CfgScale = 1.0, TopP = 0.9 }),
            Request(3, new SamplingOptions { Seed = 3, CfgScale = 3.0, GradualCfg = true }) with { Prefix = [5, 6, 7] },
        ];
        (long[][] Codes, StepLogits[] Logits, long Packed) Run(double minPackedSavingFlops)
        {
            var logits = requests.Select(_ => new StepLogits(64, vocab)).ToArray();
            using var engine = new NextDetailEngine(model, maxRows: 8, minPackedSavingFlops);
            var first = engine.Submit(requests[0] with { StepLogits = logits[0] });
            for (int i = 0; i < 9; i++) engine.Step();
            var rest = requests.Skip(1).Select((r, i) => engine.Submit(r with { StepLogits = logits[i + 1] })).ToArray();
            engine.RunUntilIdle();
            return ([Done(first), .. rest.Select(r => Done(r))], logits, engine.PackedSteps);
        }
        var packed = Run(0);
        var padded = Run(double.PositiveInfinity);
        var auto = Run(NextDetailEngine.MinPackedSavingFlops);
        try
        {
            Assert.True(packed.Packed >= 7, $"{packed.Packed} packed steps");
            Assert.Equal(0, padded.Packed);
            Assert.Equal(0, auto.Packed);   // dim 32: the padding costs less than the gathers
            Assert.Equal(padded.Codes, packed.Codes);
            Assert.Equal(padded.Codes, auto.Codes);
            for (int i = 0; i < requests.Length; i++)
            {
                AssertClose(padded.Logits[i].Guided, packed.Logits[i].Guided, 1e-4);
                AssertClose(padded.Logits[i].Uncond, packed.Logits[i].Uncond, 1e-4);
            }
        }
        finally
        {
            foreach (var r in packed.Logits.Concat(padded.Logits).Concat(auto.Logits)) r.Dispose();
        }
    }

    [Fact]
    public void DefaultPacking_PacksMixedStepsOnAModelOfDim512()
    {
        torch.manual_seed(3);
        using var model = new GptTransformer(new GptConfig
        {
            Dim = 512, NLayer = 1, NHead = 8, VocabSize = 48, NumClasses = 6, BlockSize = 32, GroupSize = 4, CausalNum = 4,
        });
        using var engine = new NextDetailEngine(model, maxRows: 4);
        var early = engine.Submit(Request(1, new SamplingOptions { Seed = 1 }));
        for (int i = 0; i < 5; i++) engine.Step();   // C = 4 causal steps + the first group call
        var late = engine.Submit(Request(2, new SamplingOptions { Seed = 2 }));
        engine.RunUntilIdle();
        Assert.Equal(4, engine.PackedSteps);         // the newcomer's class token and 3 causal codes beside early's groups
        Assert.Equal(Alone(model, Request(2, new SamplingOptions { Seed = 2 })), Done(late));
        Assert.True(early.Completion.IsCompletedSuccessfully);
    }

    [Fact]
    public void PrefixProperty_CodesAtDetailTAreTheFirstTCodesOfTheFullResult()
    {
        using var model = RandomGpt.Build(4, 8, 32, seed: 31);
        var options = new SamplingOptions { Seed = 77, CfgScale = 2.0, GradualCfg = true, TopK = 20 };
        using var engine = new NextDetailEngine(model, maxRows: 32);
        var full = engine.Generate([Request(4, options)])[0];
        var details = model.Layout.ScheduleLengths().ToArray();
        // All details in one batch: rows stop at different steps while the others go on.
        var partial = engine.Generate(details.Select(t => Request(4, options) with { Detail = t }).ToList());
        for (int i = 0; i < details.Length; i++)
            Assert.Equal(full.Take(details[i]), partial[i]);
    }

    [Fact]
    public void Continuation_FromACachedPrefix_EqualsUninterruptedGeneration()
    {
        using var model = RandomGpt.Build(4, 8, 32, seed: 41);
        var options = new SamplingOptions { Seed = 5, CfgScale = 1.5 };
        using var engine = new NextDetailEngine(model, maxRows: 32);
        var full = engine.Generate([Request(0, options)])[0];
        var starts = new[] { 1, 3, 8, 12, 20, 28 };
        var continued = engine.Generate(starts.Select(t => Request(0, options) with { Prefix = full.Take(t).ToArray() }).ToList());
        foreach (var codes in continued) Assert.Equal(full, codes);
        // A coarse result continued to a finer (not full) detail.
        var coarse = engine.Generate([Request(0, options) with { Detail = 8 }])[0];
        var finer = engine.Generate([Request(0, options) with { Prefix = coarse, Detail = 16 }])[0];
        Assert.Equal(full.Take(16), finer);
    }

    [Fact]
    public void Cancelling_OneRow_LeavesTheOthersCodesUnchanged()
    {
        using var model = RandomGpt.Build(4, 4, 32, seed: 51);
        var requests = Enumerable.Range(0, 3).Select(i => Request(i, new SamplingOptions { Seed = i, CfgScale = 2 })).ToArray();
        using var cts = new CancellationTokenSource();
        using var engine = new NextDetailEngine(model, maxRows: 8);
        var rows = requests.Select((r, i) => engine.Submit(i == 1 ? r with { CancellationToken = cts.Token } : r)).ToArray();
        for (int i = 0; i < 5; i++) engine.Step();
        Assert.Equal(6, engine.RowsInUse);
        cts.Cancel();
        engine.Step();
        Assert.Equal(4, engine.RowsInUse);                 // its two rows were freed before the next forward
        Assert.True(rows[1].Completion.IsCanceled);
        engine.RunUntilIdle();
        Assert.Equal(Alone(model, requests[0]), Done(rows[0]));
        Assert.Equal(Alone(model, requests[2]), Done(rows[2]));
        Assert.Equal(0, engine.RowsInUse);
    }

    [Fact]
    public void Progress_ReportsEveryStepWithItsPrefixLength()
    {
        using var model = RandomGpt.Build(4, 8, 32, seed: 61);
        var seen = new List<GroupProgress>();
        using var engine = new NextDetailEngine(model, maxRows: 2);
        var row = engine.Submit(Request(1, new SamplingOptions { Seed = 9 }) with { Progress = seen.Add });
        engine.RunUntilIdle();
        Assert.Equal([1, 2, 3, 4, 5, 6, 7, 8, 12, 16, 20, 24, 28, 32], seen.Select(p => p.PrefixLength));
        Assert.All(seen, p => Assert.True(p.OnSchedule));
        Assert.All(seen, p => Assert.Equal(row.Id, p.RowId));
        Assert.Equal(seen.Count - 1, seen.FindIndex(p => p.IsComplete));
        Assert.Equal(Done(row), seen[^1].Codes);
        Assert.Equal(seen[^1].Codes.Take(12), seen[8].Codes);
    }

    [Fact]
    public void MoreRequestsThanRows_WaitAndThenJoin()
    {
        using var model = RandomGpt.Build(4, 4, 32, seed: 71);
        var requests = Enumerable.Range(0, 5).Select(i => Request(i % 6, new SamplingOptions { Seed = 100 + i, CfgScale = i % 2 == 0 ? 2 : 1 })).ToArray();
        using var engine = new NextDetailEngine(model, maxRows: 3);
        var rows = requests.Select(engine.Submit).ToArray();
        engine.Step();
        Assert.True(engine.RowsInUse <= 3);
        Assert.True(engine.PendingRequests > 0);
        engine.RunUntilIdle();
        for (int i = 0; i < requests.Length; i++) Assert.Equal(Alone(model, requests[i]), Done(rows[i]));
    }

    public static TheoryData<GenerationRequest, string> BadRequests() => new()
    {
        { Request(1, new SamplingOptions { Temperature = -1 }), nameof(SamplingOptions.Temperature) },
        { Request(1, new SamplingOptions { TopK = 0 }), nameof(SamplingOptions.TopK) },
        { Request(1, new SamplingOptions { TopK = 49 }), nameof(SamplingOptions.TopK) },
        { Request(1, new SamplingOptions { TopP = 0 }), nameof(SamplingOptions.TopP) },
        { Request(1, new SamplingOptions { TopP = 1.5 }), nameof(SamplingOptions.TopP) },
        { Request(6, new SamplingOptions()), "ClassLabel" },
        { Request(-2, new SamplingOptions()), "ClassLabel" },
        { Request(1, new SamplingOptions()) with { Detail = 10 }, nameof(GenerationRequest.Detail) },
        { Request(1, new SamplingOptions()) with { Detail = 36 }, nameof(GenerationRequest.Detail) },
        { Request(1, new SamplingOptions()) with { Detail = 0 }, nameof(GenerationRequest.Detail) },
        { Request(1, new SamplingOptions()) with { Prefix = new long[10] }, nameof(GenerationRequest.Prefix) },
        { Request(1, new SamplingOptions()) with { Prefix = new long[16], Detail = 12 }, nameof(GenerationRequest.Prefix) },
        { Request(1, new SamplingOptions()) with { Prefix = [3, 48] }, nameof(GenerationRequest.Prefix) },
    };

    [Theory]
    [MemberData(nameof(BadRequests))]
    public void BadRequest_IsRejectedBeforeAnyWork(GenerationRequest request, string field)
    {
        using var model = RandomGpt.Build(4, 8, 32);
        using var engine = new NextDetailEngine(model, maxRows: 4);
        long tensorsBefore = LiveTensors;
        var e = Assert.ThrowsAny<ArgumentException>(() => engine.Submit(request));
        Assert.Equal(field, e.ParamName);
        Assert.Equal(0, engine.PendingRequests);
        Assert.Equal(tensorsBefore, LiveTensors);
    }

    [Fact]
    public void Steps_LeaveNoTensorsBehind()
    {
        using var model = RandomGpt.Build(4, 4, 32, seed: 81);
        using var engine = new NextDetailEngine(model, maxRows: 8);
        GenerationRequest[] batch = [Request(1, new SamplingOptions { Seed = 1 }), Request(2, new SamplingOptions { Seed = 2, TopK = 5, TopP = 0.8 })];
        engine.Generate(batch);
        long after1 = LiveTensors;
        engine.Generate(batch);
        using var cts = new CancellationTokenSource();
        var cancelled = engine.Submit(batch[0] with { CancellationToken = cts.Token });
        var kept = engine.Submit(batch[1]);
        engine.Step();
        engine.Step();
        cts.Cancel();
        engine.RunUntilIdle();                          // retiring a row moves cache rows
        Assert.True(cancelled.Completion.IsCanceled);
        Assert.True(kept.Completion.IsCompletedSuccessfully);
        Assert.Equal(after1, LiveTensors);
    }
}
