using DetailFlow.Core.Checkpoints;
using DetailFlow.Training.Losses;
using TorchSharp;
using TorchSharp.PyBridge;
using static TorchSharp.torch;

namespace DetailFlow.Training.Tests.Losses;

public class LossTests
{
    [Fact]
    public void PerceptualLoss_LoadsAnLpipsStateDictStrictly_AndMeasuresDistance()
    {
        using var dir = new TempDir();
        torch.manual_seed(0);
        using var source = new PerceptualLoss();
        var keys = source.state_dict().Keys.ToArray();
        Assert.Contains("net.slice1.0.weight", keys);
        Assert.Contains("net.slice2.1.weight", keys);
        Assert.Contains("net.slice5.5.bias", keys);
        Assert.Contains("lin4.model.1.weight", keys);
        Assert.Equal(13 * 2 + 5, keys.Length); // 13 VGG16 convs (weight + bias) + 5 lin layers
        string path = Path.Combine(dir.Path, "lpips.safetensors");
        source.save_safetensors(path);

        using var lpips = PerceptualLoss.Load(path);
        Assert.All(lpips.parameters(), p => Assert.False(p.requires_grad));
        using var scope = NewDisposeScope();
        var a = torch.rand(2, 3, 32, 32) * 2 - 1;
        var b = torch.rand(2, 3, 32, 32) * 2 - 1;
        Assert.Equal(0f, lpips.Distance(a, a).item<float>(), 6);
        Assert.True(lpips.Distance(a, b).item<float>() != 0);

        var x = (torch.rand(1, 3, 32, 32) * 2 - 1).requires_grad_(true);
        lpips.Distance(x, b[..1]).backward();
        Assert.True(x.grad!.abs().sum().item<float>() > 0);
    }

    [Fact]
    public void PerceptualLoss_MissingOrMismatchedFile_FailsClearly()
    {
        using var dir = new TempDir();
        string missing = Path.Combine(dir.Path, "nope.pt");
        var e = Assert.Throws<FileNotFoundException>(() => PerceptualLoss.Load(missing));
        Assert.Contains(missing, e.Message);
        Assert.Contains("lin*.model.1.weight", e.Message);

        string partial = Path.Combine(dir.Path, "partial.safetensors");
        Safetensors.SaveStateDict(partial, new Dictionary<string, Tensor> { ["lin0.model.1.weight"] = torch.zeros(1, 64, 1, 1) });
        var mismatch = Assert.Throws<CheckpointMismatchException>(() => PerceptualLoss.Load(partial));
        Assert.Contains("net.slice1.0.weight", mismatch.Message);
    }

    [Fact]
    public void TokenizerTraining_WithAPerceptualModel_AddsTheRampedLpipsTerm()
    {
        using var dir = new TempDir();
        torch.manual_seed(0);
        string path = Path.Combine(dir.Path, "lpips.safetensors");
        using (var net = new PerceptualLoss())
        {
            using (torch.no_grad())
                foreach (var lin in new[] { net.lin0, net.lin1, net.lin2, net.lin3, net.lin4 })
                    foreach (var w in lin.parameters()) w.abs_(); // trained LPIPS weights are non-negative
            net.save_safetensors(path);
        }
        var options = Tokenizer.TokenizerTrainerTests.Options(3) with { BatchSize = 4, PerceptualModel = path, PerceptualWarmup = 2 };
        using var trainer = DetailFlow.Training.Tokenizer.TokenizerTrainer.Create(SmallConfigs.Tokenizer, FashionMnist.Slice(16),
            DetailFlow.Training.Data.AugmentationKind.Flip, options, Path.Combine(dir.Path, "run"));
        var parts = new List<IReadOnlyDictionary<string, double>>();
        TrainingRunner.Run(trainer, 100, p => parts.Add(p.Parts), CancellationToken.None);
        Assert.All(parts, p => Assert.True(p["lpips"] > 0));
        Assert.Contains("perceptual_weight: 1", File.ReadAllText(Path.Combine(dir.Path, "run", "config.yaml")));
    }

    [Fact]
    public void HingeLosses_MatchTheOfficialFormulas()
    {
        using var scope = NewDisposeScope();
        var real = torch.tensor(new[] { 2f, 0.5f, -1f });
        var fake = torch.tensor(new[] { -2f, 0f, 1f });
        // ½·(mean(relu(1 − real)) + mean(relu(1 + fake))) = ½·((0 + 0.5 + 2)/3 + (0 + 1 + 2)/3)
        Assert.Equal(0.5f * (2.5f / 3 + 3f / 3), HingeLoss.Discriminator(real, fake).item<float>(), 5);
        Assert.Equal(1f / 3, HingeLoss.Generator(fake).item<float>(), 5);
        Assert.Equal(0, HingeLoss.WeightAt(0.2, 39999, 40000));
        Assert.Equal(0.2, HingeLoss.WeightAt(0.2, 40000, 40000));
    }

    [Fact]
    public void PatchDiscriminator_GivesPatchLogits()
    {
        using var d = new PatchDiscriminator(channels: 8, layers: 2);
        using var scope = NewDisposeScope();
        var logits = d.forward(torch.rand(2, 3, 32, 32));
        Assert.Equal(2, logits.shape[0]);
        Assert.Equal(1, logits.shape[1]);
        Assert.True(logits.shape[2] > 1 && logits.shape[3] > 1);
    }
}
