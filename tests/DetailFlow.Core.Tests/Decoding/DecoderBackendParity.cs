using DetailFlow.Core.Decoding;
using DetailFlow.Core.Generation;
using DetailFlow.Core.Tokenizer;
using TorchSharp;
using static TorchSharp.torch;

namespace DetailFlow.Core.Tests.Decoding;

/// <summary>
/// Decodes every scheduled prefix of a model with two backends and returns the largest pixel difference: one padded,
/// masked batch per scheduled resolution holding every prefix with that resolution (each row its own prefix), so the
/// mask path and every (t, d_t) pair are covered in as few decoder calls as there are resolutions.
/// </summary>
internal static class DecoderBackendParity
{
    public static IReadOnlyList<(int Resolution, int[] Prefixes, double MaxDiff)> Compare(VqModel model, IDecoderBackend a, IDecoderBackend b, int seed = 0)
    {
        var schedule = ResolutionSchedule.For(model.Config);
        using var generator = new torch.Generator((ulong)seed);
        var results = new List<(int, int[], double)>();
        foreach (var group in schedule.ValidPrefixes.GroupBy(schedule.DecoderResolution).OrderBy(g => g.Key))
        {
            int[] prefixes = group.ToArray();
            using var scope = NewDisposeScope();
            var codes = torch.randint(0, model.Config.CodebookSize, [prefixes.Length, prefixes.Max()], dtype: int64, generator: generator);
            var pa = a.Decode(codes, prefixes, group.Key);
            var pb = b.Decode(codes, prefixes, group.Key);
            Assert.Equal([prefixes.Length, 3L, group.Key, group.Key], pa.shape);
            Assert.Equal(pa.shape, pb.shape);
            Assert.False(pb.isnan().any().item<bool>());
            results.Add((group.Key, prefixes, (pa - pb).abs().max().item<float>()));
        }
        Assert.Equal(schedule.ValidPrefixes.Count, results.Sum(r => ((int[])r.Item2).Length));
        return results;
    }
}
