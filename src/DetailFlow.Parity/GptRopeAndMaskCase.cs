using DetailFlow.Core.Gpt;
using TorchSharp;

namespace DetailFlow.Parity;

/// <summary>
/// <c>gpt_rope_and_mask</c> (README "Cases" 3): every rotary table <c>{tag}_freqs_cis</c> (atol <see cref="Tolerance"/>)
/// and group-causal mask <c>{tag}_group_causal_mask</c> (exact), each rebuilt from the parameters its
/// <c>meta.tables</c> entries give (<see cref="RopeTableSpec"/>). A mask entry of its own (a
/// <c>create_group_causal_mask</c> call) wins over a causal_num left to its default. Every table tensor of the file
/// must be covered by some entry.
/// </summary>
public sealed class GptRopeAndMaskCase : IParityCase
{
    public const string Name = "gpt_rope_and_mask";
    public const double Tolerance = 1e-5;
    private const string FreqsSuffix = "_freqs_cis";
    private const string MaskSuffix = "_group_causal_mask";

    public string Kind => "gpt_rope_and_mask";

    public bool Handles(string caseName) => caseName == Name;

    public void Check(FixtureSet fixtures, string caseName, ParityReport report, CancellationToken cancellationToken)
    {
        using var data = fixtures.OpenCase(caseName);
        var specs = data.Meta.GetProperty("tables").EnumerateArray().Select(RopeTableSpec.Read).ToList();
        var covered = new HashSet<string>(StringComparer.Ordinal);
        foreach (var tagSpecs in specs.GroupBy(s => s.TensorTag, StringComparer.Ordinal))
        {
            cancellationToken.ThrowIfCancellationRequested();
            string tag = tagSpecs.Key;
            var rotary = tagSpecs.Select(s => s.Rotary).FirstOrDefault(r => r is not null);
            var mask = tagSpecs.Where(s => s.Mask is not null).OrderBy(s => s.MaskFromDefault).Select(s => s.Mask).FirstOrDefault();
            using var scope = torch.NewDisposeScope();
            int found = 0;
            if (rotary is not null && data.Contains(tag + FreqsSuffix))
            {
                found++;
                covered.Add(tag + FreqsSuffix);
                report.Close(tag + FreqsSuffix, Rotary2D.Build(rotary.GridHeight, rotary.GridWidth, rotary.HeadDim, rotary.RopeBase, rotary.ClsTokenNum),
                    data[tag + FreqsSuffix], Tolerance);
            }
            if (mask is not null && data.Contains(tag + MaskSuffix))
            {
                found++;
                covered.Add(tag + MaskSuffix);
                report.Exact(tag + MaskSuffix, GroupCausalMask.Build(mask.Size, mask.GroupSize, mask.CausalNum), data[tag + MaskSuffix]);
            }
            if (found == 0) report.Fail(tag, $"meta.tables describes '{tag}' but the file has neither {tag}{FreqsSuffix} nor {tag}{MaskSuffix}");
        }
        foreach (var name in data.Names.Where(n => (n.EndsWith(FreqsSuffix, StringComparison.Ordinal) || n.EndsWith(MaskSuffix, StringComparison.Ordinal)) && !covered.Contains(n)))
            report.Fail(name, "no entry of meta.tables describes this tensor");
    }
}
