using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace DetailFlow.Training.Evaluation;

/// <summary>
/// A small CNN for 32×32 grey images in [−1, 1] (RGB inputs are averaged over channels): three 3×3 conv + ReLU + 2×2
/// max-pool stages (16, 32, 64 channels) → 1024 → 128 (ReLU; the penultimate features used for FID) → classes.
/// Used to measure generated images (class-consistency, FID), not part of the generator.
/// </summary>
public sealed class FashionClassifier : Module<Tensor, Tensor>
{
    private readonly Sequential features;
    private readonly Linear head;

    public FashionClassifier(int classes = 10) : base(nameof(FashionClassifier))
    {
        features = Sequential(
            Conv2d(1, 16, 3, padding: 1), ReLU(), MaxPool2d(2),
            Conv2d(16, 32, 3, padding: 1), ReLU(), MaxPool2d(2),
            Conv2d(32, 64, 3, padding: 1), ReLU(), MaxPool2d(2),
            Flatten(), Linear(64 * 4 * 4, 128), ReLU());
        head = Linear(128, classes);
        RegisterComponents();
    }

    /// <summary>Penultimate features [B, 128] of images [B, 1 or 3, 32, 32] in [−1, 1].</summary>
    public Tensor Features(Tensor images) => features.forward(images.shape[1] == 1 ? images : images.mean([1], keepdim: true));

    public override Tensor forward(Tensor images) => head.forward(Features(images));

    /// <summary>
    /// Trains on grey images [M, 1, 32, 32] with labels [M] (Adam 1e-3, batch 128, seeded shuffles; deterministic on
    /// one thread). Returns the mean loss of the last 100 steps.
    /// </summary>
    public double Train(Tensor images, Tensor labels, int epochs, int seed, Action<int, int, double>? progress = null,
        CancellationToken cancellationToken = default)
    {
        const int batch = 128;
        manual_seed(seed);
        train();
        using var optimizer = optim.Adam(parameters(), lr: 1e-3);
        long m = images.shape[0];
        int stepsPerEpoch = (int)(m / batch), total = epochs * stepsPerEpoch, step = 0;
        var recent = new Queue<double>();
        for (int e = 0; e < epochs; e++)
        {
            var order = Enumerable.Range(0, (int)m).Select(i => (long)i).ToArray();
            new Random(seed * 1000 + e).Shuffle(order);
            for (int s = 0; s < stepsPerEpoch; s++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                using var scope = NewDisposeScope();
                var idx = tensor(order.AsSpan(s * batch, batch).ToArray());
                var loss = functional.cross_entropy(forward(images.index_select(0, idx)), labels.index_select(0, idx));
                optimizer.zero_grad();
                loss.backward();
                optimizer.step();
                double l = loss.item<float>();
                recent.Enqueue(l);
                if (recent.Count > 100) recent.Dequeue();
                progress?.Invoke(++step, total, l);
            }
        }
        eval();
        return recent.Average();
    }

    /// <summary>Predicted classes [M] and penultimate features [M, 128] (float64) of images [M, C, 32, 32], in batches.</summary>
    public (long[] Predictions, Tensor Features) Predict(Tensor images, int batch = 500)
    {
        eval();
        using var noGrad = no_grad();
        var predictions = new List<long>();
        var features = new List<Tensor>();
        for (long i = 0; i < images.shape[0]; i += batch)
        {
            using var scope = NewDisposeScope();
            var x = images.narrow(0, i, Math.Min(batch, images.shape[0] - i));
            var f = Features(x);
            predictions.AddRange(head.forward(f).argmax(1).data<long>().ToArray());
            features.Add(f.to(float64).MoveToOuterDisposeScope());
        }
        var all = cat(features, 0);
        foreach (var f in features) f.Dispose();
        return (predictions.ToArray(), all);
    }
}
