using DetailFlow.Api.Batching;
using DetailFlow.Core.Generation;

namespace DetailFlow.Api.Tests;

public sealed class DecodeOrderTests
{
    private static InferenceJob Job() => new() { Spec = new ImageSpec(0, new SamplingOptions(), 32, Cacheable: false) };

    private static InferenceJob Shown(InferenceJob job)
    {
        job.FirstPreviewSeen = true;
        return job;
    }

    [Fact]
    public void EachStreamsFirstPreview_IsDecodedBeforeTheRestOfTheBatch_TheRestAsPosted()
    {
        var plain = Job();
        var stream = Job();
        var seen = Shown(Job());
        DecodeItem Item(InferenceJob job, int tokens, bool final = false) => new(job, null!, new long[32], tokens, final, Generated: true);
        var finalOfPlain = Item(plain, 32, final: true);
        var coarse = Item(stream, 8);
        var finer = Item(stream, 16);
        var finalOfStream = Item(stream, 32, final: true);
        var laterPreview = Item(seen, 24);

        var parts = DecodeWorker.InOrder([finalOfPlain, finer, coarse, finalOfStream, laterPreview]);

        Assert.Equal([coarse], parts[0]);
        Assert.Equal([finalOfPlain, finer, finalOfStream, laterPreview], parts[1]);
    }

    [Fact]
    public void ABatchsCalls_KeepEachJobsPrefixesInOrder_CoarsestResolutionFirst()
    {
        DecodeItem Item(InferenceJob job, int tokens, bool final = false) => new(job, null!, new long[32], tokens, final, Generated: true);
        var plain = Job();
        var stream = Shown(Job());
        var fresh = Job();
        var finalOfPlain = Item(plain, 32, final: true);
        var preview = Item(stream, 16);
        var finalOfStream = Item(stream, 32, final: true);
        var firstOfFresh = Item(fresh, 8);
        var laterOfFresh = Item(fresh, 24);

        // Resolution = tokens here (it grows with them, as a schedule's does).
        var calls = DecodeWorker.Calls([finalOfPlain, preview, laterOfFresh, finalOfStream, firstOfFresh], d => d.Tokens);

        Assert.Equal([[firstOfFresh], [preview], [laterOfFresh], [finalOfPlain, finalOfStream]], calls);
    }

    [Fact]
    public void FirstPreviewsPostedDuringABatch_AreTakenOutOfTheQueue_TheRestStaysInOrder()
    {
        DecodeItem Item(InferenceJob job, int tokens, bool final = false) => new(job, null!, new long[32], tokens, final, Generated: true);
        var newStream = Job();
        var other = Job();
        var seen = Shown(Job());
        var finalOfOther = Item(other, 32, final: true);
        var first = Item(newStream, 8);
        var second = Item(newStream, 16);
        var laterPreview = Item(seen, 24);

        var decoding = new HashSet<InferenceJob>();
        var (taken, rest) = DecodeWorker.TakeFirstPreviews([finalOfOther, second, first, laterPreview], decoding);
        Assert.Equal([first], taken);
        Assert.Equal([finalOfOther, second, laterPreview], rest);

        // A job with a prefix in the batch being decoded waits its turn: its coarser preview may not be shown yet.
        (taken, rest) = DecodeWorker.TakeFirstPreviews([finalOfOther, second, first, laterPreview], new HashSet<InferenceJob> { newStream });
        Assert.Empty(taken);
        Assert.Equal([finalOfOther, second, first, laterPreview], rest);

        var none = new List<DecodeItem> { finalOfOther, laterPreview };
        (taken, rest) = DecodeWorker.TakeFirstPreviews(none, decoding);
        Assert.Empty(taken);
        Assert.Same(none, rest);                                             // nothing to take: the queue is left as it is
    }
}
