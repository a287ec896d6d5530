using System.Text.Json;
using DetailFlow.Core.Decoding;
using DetailFlow.Core.Imaging;
using DetailFlow.Parity;
using DetailFlow.Core.Tokenizer;
using TorchSharp;
using static TorchSharp.torch;

namespace DetailFlow.Core.Tests.Imaging;

/// <summary>Previews of the fixture tokenizer against the official <c>decode_code</c> outputs of tokenizer_decode.</summary>
public sealed class PreviewDecoderTests : IDisposable
{
    private const double PixelAtol = 1e-4;
    private readonly VqModel _model = TokenizerFixtureModel.Load(TestFixtures.Set, decoderOnly: true);
    private readonly RawTensorFileHandle _case = new(TestFixtures.Set.OpenCase("tokenizer_decode"));

    /// <summary>t → d_t from the fixture's on-table calls (the official <c>token2dec_out_res</c>).</summary>
    private Dictionary<int, int> Schedule => _case.File.Meta.GetProperty("calls").EnumerateArray()
        .Where(c => !c.GetProperty("extra").GetBoolean())
        .ToDictionary(c => c.GetProperty("t").GetInt32(), c => c.GetProperty("img_size").GetInt32());

    public void Dispose()
    {
        _case.Dispose();
        _model.Dispose();
    }

    [Fact]
    public void EveryPreviewMatchesTheOfficialDecodeAtItsScheduledResolution()
    {
        var schedule = Schedule;
        var codes = _case.File["codes"];
        long[][] rows = [codes[0].data<long>().ToArray(), codes[1].data<long>().ToArray()];
        // Every (row, t) pair in one call, interleaved so that groups mix rows and prefix lengths.
        var items = schedule.Keys.SelectMany(t => rows.Select(r => new PreviewItem(r, t))).ToList();

        int forwards = 0;
        var hook = _model.decoder.to_pixel.register_forward_hook(_ => forwards++);
        var previews = new PreviewDecoder(_model, t => schedule[t]).DecodePixels(items);
        hook.remove();
        try
        {
            Assert.Equal(schedule.Values.Distinct().Count(), forwards); // one decoder forward per distinct resolution
            for (int i = 0; i < items.Count; i++)
            {
                int t = items[i].PrefixLength, d = schedule[t], row = i % 2;
                Assert.Equal((t, d), (previews[i].PrefixLength, previews[i].Resolution));
                var expected = _case.File[$"pixels_t{t}_res{d}"][row];
                Assert.Equal(expected.shape, previews[i].Pixels.shape);
                double diff = (previews[i].Pixels - expected).abs().max().item<float>();
                Assert.True(diff <= PixelAtol, $"row {row}, t = {t}: max abs diff {diff}");
            }
        }
        finally { foreach (var p in previews) p.Dispose(); }
    }

    [Fact]
    public void MixedPrefixLengthsAtOneResolutionEqualSeparateDecodes()
    {
        var codes = _case.File["codes"][0].data<long>().ToArray();
        var decoder = new PreviewDecoder(_model, _ => 8); // every prefix at 8 px: one padded, masked batch
        var previews = decoder.DecodePixels([new PreviewItem(codes, 1), new PreviewItem(codes, 17), new PreviewItem(codes.AsMemory(0, 5), 5)]);
        try
        {
            foreach (var p in previews)
            {
                using var alone = _model.Decode(torch.tensor(codes[..p.PrefixLength], [1, p.PrefixLength]), p.PrefixLength, 8);
                double diff = (p.Pixels - alone[0]).abs().max().item<float>();
                Assert.True(diff <= 1e-5, $"t = {p.PrefixLength}: masked batch differs from a separate decode by {diff}");
            }
        }
        finally { foreach (var p in previews) p.Dispose(); }
    }

    [Fact]
    public void CallsStayWithinTheRowBudget_AndDecodeWhatOneCallPerResolutionDecodes()
    {
        var schedule = Schedule;
        var codes = _case.File["codes"];
        long[][] rows = [codes[0].data<long>().ToArray(), codes[1].data<long>().ToArray()];
        var items = schedule.Keys.SelectMany(t => Enumerable.Range(0, 3).Select(k => new PreviewItem(rows[k % 2], t))).ToList();
        var whole = new PreviewDecoder(_model, t => schedule[t]).DecodePixels(items);

        using var backend = new RecordingBackend(new TorchDecoderBackend(_model));
        int longest = schedule.Keys.Max();
        var probe = new PreviewDecoder(backend, t => schedule[t]);
        int budget = 2 * probe.TokensOf(longest) - 1;   // one image per call at the top resolution, several below
        var split = new PreviewDecoder(backend, t => schedule[t], rowsPerCall: budget);
        var callsSeen = new List<int>();   // the backend's calls so far, each time the hook runs: once before every call
        var previews = split.DecodePixels(items, beforeCall: () => callsSeen.Add(backend.Calls.Count));
        try
        {
            Assert.Equal(Enumerable.Range(0, backend.Calls.Count), callsSeen);
            Assert.Equal(1, split.ImagesPerCall(longest));
            Assert.True(backend.Calls.Count > schedule.Values.Distinct().Count(), $"{backend.Calls.Count} calls: nothing was split");
            foreach (var (images, prefixes) in backend.Calls)
                Assert.True(images == 1 || images * split.TokensOf(prefixes.Max()) <= budget,
                    $"{images} images of up to {prefixes.Max()} latents exceed {budget} rows");
            Assert.Equal(items.Count, backend.Calls.Sum(c => c.Images));
            for (int i = 0; i < items.Count; i++)
            {
                Assert.Equal((whole[i].PrefixLength, whole[i].Resolution), (previews[i].PrefixLength, previews[i].Resolution));
                double diff = (previews[i].Pixels - whole[i].Pixels).abs().max().item<float>();
                Assert.True(diff <= 1e-5, $"item {i}: split decode differs by {diff}");
            }
        }
        finally { foreach (var p in whole.Concat(previews)) p.Dispose(); }
        Assert.Throws<ArgumentOutOfRangeException>(() => new PreviewDecoder(backend, t => schedule[t], rowsPerCall: 0));
    }

    [Fact]
    public void RendererReturnsImagesAtTheScheduledOrDisplaySize()
    {
        var schedule = Schedule;
        var codes = _case.File["codes"][1].data<long>().ToArray();
        var renderer = new PreviewRenderer(new PreviewDecoder(_model, t => schedule[t]));
        var images = renderer.Render([new PreviewItem(codes, 4), new PreviewItem(codes, 32)]);
        Assert.Equal((8, 8), (images[0].Image.Width, images[0].Image.Height));
        Assert.Equal((32, 32), (images[1].Image.Width, images[1].Image.Height));

        // The RGB bytes are the fixture pixels converted by the official rule.
        var expected = PixelConversion.ToRgb(_case.File["pixels_t32_res32"][1].unsqueeze(0))[0];
        int differing = images[1].Image.Pixels.Zip(expected.Pixels).Count(p => p.First != p.Second);
        Assert.True(differing <= 2, $"{differing} bytes differ from the converted fixture (float noise at a rounding edge allows a few)");

        var shown = renderer.Render([new PreviewItem(codes, 4)], displaySize: 32);
        Assert.Equal((8, 32, 32), (shown[0].Resolution, shown[0].Image.Width, shown[0].Image.Height));
        var pngs = renderer.RenderPng([new PreviewItem(codes, 8)], PngEncoder.Fast);
        using var bitmap = SkiaSharp.SKBitmap.Decode(pngs[0]);
        Assert.Equal(12, bitmap.Width);
    }

    /// <summary>ModelOptions:DType = Auto can pick bf16 for the decoder: its previews (and the display-size resize) must render.</summary>
    [Fact]
    public void Bf16Decoder_RendersPreviewsAtTheScheduledAndDisplaySize_CloseToFp32()
    {
        var schedule = Schedule;
        var codes = _case.File["codes"][1].data<long>().ToArray();
        using var bf16 = TokenizerFixtureModel.Load(TestFixtures.Set, decoderOnly: true);
        bf16.MoveTo(ScalarType.BFloat16);
        var items = new[] { new PreviewItem(codes, 4), new PreviewItem(codes, 32) };
        var reference = new PreviewRenderer(new PreviewDecoder(_model, t => schedule[t])).Render(items, displaySize: 32);
        var reduced = new PreviewRenderer(new PreviewDecoder(bf16, t => schedule[t])).Render(items, displaySize: 32);
        for (int i = 0; i < items.Length; i++)
        {
            Assert.Equal((32, 32), (reduced[i].Image.Width, reduced[i].Image.Height));
            double meanAbs = reduced[i].Image.Pixels.Zip(reference[i].Image.Pixels).Average(p => Math.Abs(p.First - p.Second));
            Assert.True(meanAbs < 4, $"bf16 preview {i} differs from fp32 by {meanAbs:F2} levels on average");
        }
    }

    [Fact]
    public void ItemsWithTooFewCodesOrAnUnscheduledPrefixAreRejected()
    {
        var decoder = new PreviewDecoder(_model, t => t == 3 ? 10 : 4);
        var e = Assert.Throws<ArgumentException>(() => decoder.DecodePixels([new PreviewItem(new long[2], 4)]));
        Assert.Contains("fewer than its prefix length 4", e.Message);
        var s = Assert.Throws<InvalidOperationException>(() => decoder.DecodePixels([new PreviewItem(new long[3], 3)]));
        Assert.Contains("10 px", s.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => decoder.DecodePixels([new PreviewItem(new long[40], 33)]));
    }

    /// <summary>A backend that records each call's batch and prefixes.</summary>
    private sealed class RecordingBackend(IDecoderBackend inner) : IDecoderBackend
    {
        public List<(int Images, int[] Prefixes)> Calls { get; } = [];
        public string Name => inner.Name;
        public int NumLatentTokens => inner.NumLatentTokens;
        public int PatchSize => inner.PatchSize;

        public Tensor Decode(Tensor codes, IReadOnlyList<int> prefixLengths, int imageSize)
        {
            Calls.Add(((int)codes.shape[0], prefixLengths.ToArray()));
            return inner.Decode(codes, prefixLengths, imageSize);
        }

        public void Dispose() => inner.Dispose();
    }

    /// <summary>Owns a fixture case file for the lifetime of the test class.</summary>
    private sealed class RawTensorFileHandle(DetailFlow.Core.Checkpoints.RawTensorFile file) : IDisposable
    {
        public DetailFlow.Core.Checkpoints.RawTensorFile File { get; } = file;
        public void Dispose() => File.Dispose();
    }
}
