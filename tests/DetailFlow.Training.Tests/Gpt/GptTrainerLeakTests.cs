using DetailFlow.Training.Gpt;
using TorchSharp;

namespace DetailFlow.Training.Tests.Gpt;

/// <summary>A training step leaves no tensor behind: the live count after 10 steps equals the count after 40.</summary>
public class GptTrainerLeakTests
{
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void TrainStep_KeepsTheLiveTensorCountFlat(bool ema)
    {
        using var dir = new TempDir();
        var options = new GptTrainingOptions { BatchSize = 8, TotalSteps = 100, Lr = 1e-3, Ema = ema, Seed = 1 };
        using var trainer = GptTrainer.Create(GptTrainerTests.Tiny, GptTrainerTests.StructuredCodes(), options, dir.Path);
        var stats = DisposeScopeManager.Statistics;
        for (int i = 0; i < 10; i++) trainer.TrainStep();
        long after10 = stats.ThreadTotalLiveCount;
        for (int i = 0; i < 30; i++) trainer.TrainStep();
        long after40 = stats.ThreadTotalLiveCount;
        Assert.True(after40 == after10, $"live tensors: {after10} after 10 steps, {after40} after 40 (EMA {ema})");
    }
}
