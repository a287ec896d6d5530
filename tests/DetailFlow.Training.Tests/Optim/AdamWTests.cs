using DetailFlow.Training.Optim;
using TorchSharp;
using static TorchSharp.torch;

namespace DetailFlow.Training.Tests.Optim;

public class AdamWTests
{
    [Fact]
    public void Step_MatchesTorchAdamW_WithPerTensorDecay()
    {
        torch.manual_seed(0);
        var w1 = torch.randn(4, 3).requires_grad_(true);
        var b1 = torch.randn(3).requires_grad_(true);
        var w2 = new TorchSharp.Modules.Parameter(w1.detach().clone());
        var b2 = new TorchSharp.Modules.Parameter(b1.detach().clone());
        var ours = new AdamW([("w", w1, 0.05), ("b", b1, 0.0)], 0.9, 0.95);
        var reference = torch.optim.AdamW(
            [new TorchSharp.Modules.AdamW.ParamGroup([w2], new TorchSharp.Modules.AdamW.Options { weight_decay = 0.05 }),
             new TorchSharp.Modules.AdamW.ParamGroup([b2], new TorchSharp.Modules.AdamW.Options { weight_decay = 0.0 })],
            lr: 1e-2, beta1: 0.9, beta2: 0.95);
        for (int step = 0; step < 5; step++)
        {
            var x = torch.randn(6, 4);
            ((x.matmul(w1) + b1).pow(2).sum()).backward();
            ours.Step(1e-2);
            ours.ZeroGrad();
            ((x.matmul(w2) + b2).pow(2).sum()).backward();
            reference.step();
            reference.zero_grad();
        }
        Assert.True(w1.allclose(w2, rtol: 1e-5, atol: 1e-6), $"weights differ by {(w1 - w2).abs().max().item<float>()}");
        Assert.True(b1.allclose(b2, rtol: 1e-5, atol: 1e-6), $"biases differ by {(b1 - b2).abs().max().item<float>()}");
        Assert.Equal(5, ours.StepCount);
    }

    [Fact]
    public void LoadStateDict_RestoresMomentsSoTheNextStepIsIdentical()
    {
        torch.manual_seed(1);
        var p1 = torch.randn(5).requires_grad_(true);
        var p2 = p1.detach().clone().requires_grad_(true);
        var a = new AdamW([("p", p1, 0.1)]);
        var b = new AdamW([("p", p2, 0.1)]);
        for (int i = 0; i < 3; i++) { p1.pow(3).sum().backward(); a.Step(0.1); a.ZeroGrad(); }
        using (torch.no_grad()) p2.copy_(p1);
        b.LoadStateDict(a.StateDict(), "test");
        p1.pow(3).sum().backward(); a.Step(0.1);
        p2.pow(3).sum().backward(); b.Step(0.1);
        Assert.Equal(p1.data<float>().ToArray(), p2.data<float>().ToArray());
        Assert.Equal(4, b.StepCount);
    }

    [Fact]
    public void Schedule_WarmsUpLinearlyThenDecaysToTheMinimum()
    {
        var s = LearningRateSchedule.Gpt(1e-3, totalSteps: 100, warmupRatio: 0.1);
        Assert.Equal(5e-6, s.At(0), 12);
        Assert.Equal(5e-6 + (1e-3 - 5e-6) * 0.5, s.At(5), 12);
        Assert.Equal(1e-3, s.At(10), 12);
        Assert.Equal(1e-5 + (1e-3 - 1e-5) * 0.5, s.At(55), 12);
        Assert.Equal(1e-5, s.At(100), 12);
        Assert.Throws<ArgumentOutOfRangeException>(() => s.At(-1));
    }
}

public class TrainingRunnerTests
{
    private sealed class CountingTrainer(CancellationTokenSource cancelDuringStep, long cancelAt) : ITrainer
    {
        public long Step { get; private set; }
        public long TotalSteps => 100;
        public double LearningRate => 0.1;
        public List<long> Saved { get; } = [];

        public StepLoss TrainStep()
        {
            if (Step + 1 == cancelAt) cancelDuringStep.Cancel(); // Ctrl+C arrives in the middle of a step
            Step++;
            return new StepLoss(1.0 / Step, new Dictionary<string, double>());
        }

        public string SaveCheckpoint()
        {
            Saved.Add(Step);
            return $"ckpt{Step}";
        }
    }

    [Fact]
    public void Cancellation_DuringAStep_FinishesItAndWritesACheckpoint()
    {
        using var cts = new CancellationTokenSource();
        var trainer = new CountingTrainer(cts, cancelAt: 7);
        var result = TrainingRunner.Run(trainer, checkpointEvery: 5, progress: null, cts.Token);
        Assert.True(result.Cancelled);
        Assert.Equal(7, result.FinalStep);
        Assert.Equal(new long[] { 5, 7 }, trainer.Saved);
        Assert.Equal("ckpt7", result.LastCheckpoint);
        Assert.Equal(7, result.Losses.Count);
    }
}
