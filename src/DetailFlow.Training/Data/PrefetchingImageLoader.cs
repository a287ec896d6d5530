using System.Collections.Concurrent;
using DetailFlow.Core.Imaging;

namespace DetailFlow.Training.Data;

/// <summary>
/// Builds training batches on a background thread, at most <see cref="Capacity"/> ahead of the training step (a
/// bounded queue: torch's DataLoader prefetch). Batch s takes the stream positions [s·B, (s+1)·B) of the
/// <see cref="EpochOrder"/>, and every item's augmentation draws from a generator seeded by (seed, position), so batch
/// contents depend on the step only (exact resume). Items that cannot be decoded are left out of their batch,
/// counted and reported (<see cref="Skipped"/>); a batch left empty continues with the following positions.
/// </summary>
public sealed class PrefetchingImageLoader : IDisposable
{
    private readonly ILabeledImageSource _source;
    private readonly EpochOrder _order;
    private readonly AugmentationKind _augmentation;
    private readonly int _seed;
    private readonly BlockingCollection<ImageBatch> _queue;
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentDictionary<int, SkippedImage> _skipped = new();
    private readonly Task _producer;

    public PrefetchingImageLoader(ILabeledImageSource source, AugmentationKind augmentation, int imageSize, int batchSize,
        int seed, long startStep, long endStep, int capacity = 4, bool shuffle = true)
    {
        ArgumentNullException.ThrowIfNull(source);
        if (imageSize <= 0) throw new ArgumentOutOfRangeException(nameof(imageSize), imageSize, "image size must be positive");
        if (batchSize <= 0) throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize, "batch size must be positive");
        if (startStep < 0 || endStep < startStep) throw new ArgumentOutOfRangeException(nameof(startStep), $"steps [{startStep}, {endStep}) are not a valid range");
        if (capacity <= 0) throw new ArgumentOutOfRangeException(nameof(capacity), capacity, "prefetch capacity must be positive");
        (_source, _augmentation, ImageSize, BatchSize, _seed, Capacity) = (source, augmentation, imageSize, batchSize, seed, capacity);
        _order = new EpochOrder(source.Count, seed, shuffle);
        _queue = new BlockingCollection<ImageBatch>(capacity);
        _producer = Task.Factory.StartNew(() => Produce(startStep, endStep), TaskCreationOptions.LongRunning);
    }

    public int ImageSize { get; }
    public int BatchSize { get; }
    public int Capacity { get; }

    /// <summary>Batches waiting in the queue right now (for progress displays and the prefetch test).</summary>
    public int Queued => _queue.Count;

    /// <summary>Every item skipped so far (distinct), in no particular order.</summary>
    public IReadOnlyCollection<SkippedImage> Skipped => _skipped.Values.ToArray();

    /// <summary>The batches of steps [startStep, endStep) in order. Rethrows the exception that stopped the producer.</summary>
    public IEnumerable<ImageBatch> Batches(CancellationToken cancellationToken = default)
    {
        foreach (var batch in _queue.GetConsumingEnumerable(cancellationToken)) yield return batch;
        _producer.GetAwaiter().GetResult(); // the queue completed: rethrow what stopped the producer, if anything
    }

    private void Produce(long startStep, long endStep)
    {
        try
        {
            for (long step = startStep; step < endStep && !_stop.IsCancellationRequested; step++)
                _queue.Add(Build(step), _stop.Token);
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
            // disposed while waiting for room in the queue: the consumer is gone
        }
        finally
        {
            _queue.CompleteAdding();
        }
    }

    private ImageBatch Build(long step)
    {
        int plane = 3 * ImageSize * ImageSize;
        var images = new List<(float[] Chw, long Label)>(BatchSize);
        var skippedHere = new List<SkippedImage>();
        long position = step * BatchSize, end = position + BatchSize;
        long limit = position + Math.Max(BatchSize, (long)_order.Count); // an empty batch may look one epoch ahead
        while ((position < end || images.Count == 0) && position < limit)
        {
            int index = _order.IndexAt(position);
            var item = LoadItem(index, position);
            if (item is { } ok) images.Add(ok);
            else skippedHere.Add(_skipped[index]);
            position++;
        }
        if (images.Count == 0)
            throw new InvalidDataException($"no decodable image in a whole epoch of {_order.Count} items (first: {_source.Describe(0)})");
        var pixels = new float[images.Count * plane];
        for (int i = 0; i < images.Count; i++) images[i].Chw.CopyTo(pixels, i * plane);
        return new ImageBatch(step, pixels, images.Select(x => x.Label).ToArray(), ImageSize, skippedHere);
    }

    private (float[] Chw, long Label)? LoadItem(int index, long position)
    {
        if (_skipped.ContainsKey(index)) return null;
        RgbImage? image = _source.TryLoad(index, out string? error);
        if (image is null)
        {
            _skipped.TryAdd(index, new SkippedImage(index, _source.Describe(index), error ?? "unreadable"));
            return null;
        }
        var rng = new Random(Seeds.Mix(_seed, position, 1));
        var augmented = ImageAugmentation.Apply(_augmentation, image, ImageSize, rng);
        var chw = new float[3 * ImageSize * ImageSize];
        ImageTransforms.ToNormalizedChw(augmented, chw);
        return (chw, _source.LabelOf(index));
    }

    public void Dispose()
    {
        _stop.Cancel();
        // A producer failure surfaces through Batches; disposal only waits for the thread to leave.
        ((IAsyncResult)_producer).AsyncWaitHandle.WaitOne(TimeSpan.FromSeconds(10));
        _queue.Dispose();
        _stop.Dispose();
    }
}
