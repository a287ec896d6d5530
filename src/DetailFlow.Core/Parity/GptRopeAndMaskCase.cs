using System.Text.Json;
using DetailFlow.Core.Gpt;
using TorchSharp;
using static TorchSharp.torch;

namespace DetailFlow.Core.Parity;

/// <summary>
/// <c>gpt_rope_and_mask</c> (README "Cases" 3): for every entry of <c>meta.tables</c> with a block size, the rotary
/// table <c>{tag}_freqs_cis</c> (atol <see cref="Tolerance"/>) and, where present, the mask
/// <c>{tag}_group_causal_mask</c> (exact), each built from the entry's own block/group/causal/head_dim/cls values.
/// Every table tensor of the file must be covered by some entry.
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
        var covered = new HashSet<string>(StringComparer.Ordinal);
        foreach (var table in data.Meta.GetProperty("tables").EnumerateArray())
        {
            string tag = table.GetProperty("tag").GetString()!;
            if (!table.TryGetProperty("block_size", out var blockElement)) continue; // an annotation of another entry's call
            int block = blockElement.GetInt32();
            int group = table.GetProperty("group_size").GetInt32();
            int causal = table.TryGetProperty("causal_num", out var c) && c.ValueKind == JsonValueKind.Number ? c.GetInt32() : group;
            int headDim = table.GetProperty("head_dim").GetInt32();
            int cls = table.TryGetProperty("cls_token_num", out var k) ? k.GetInt32() : 1;
            double ropeBase = table.TryGetProperty("rope_base", out var rb) ? rb.GetDouble() : 10000;
            using var scope = torch.NewDisposeScope();
            int found = 0;
            if (data.Contains(tag + FreqsSuffix))
            {
                found++;
                covered.Add(tag + FreqsSuffix);
                report.Close(tag + FreqsSuffix, Rotary2D.Build(block / group, group, headDim, ropeBase, cls), data[tag + FreqsSuffix], Tolerance);
            }
            if (data.Contains(tag + MaskSuffix))
            {
                found++;
                covered.Add(tag + MaskSuffix);
                report.Exact(tag + MaskSuffix, GroupCausalMask.Build(block, group, causal), data[tag + MaskSuffix]);
            }
            if (found == 0) report.Fail(tag, $"meta.tables names '{tag}' but the file has neither {tag}{FreqsSuffix} nor {tag}{MaskSuffix}");
        }
        foreach (var name in data.Names.Where(n => (n.EndsWith(FreqsSuffix, StringComparison.Ordinal) || n.EndsWith(MaskSuffix, StringComparison.Ordinal)) && !covered.Contains(n)))
            report.Fail(name, "no entry of meta.tables describes this tensor");
    }
}
