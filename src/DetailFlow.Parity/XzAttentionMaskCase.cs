using System.Text.Json;
using DetailFlow.Core.Tokenizer;
using static TorchSharp.torch;

namespace DetailFlow.Parity;

/// <summary>
/// <c>xz_attention_masks</c>: every mask of <c>meta.masks</c> rebuilt from its n, m and kwargs (True/1 = blocked), and
/// its <c>&lt;name&gt;_additive_f32</c> form where the fixture has one (0 allowed, float.MinValue blocked), exactly.
/// </summary>
public sealed class XzAttentionMaskCase : IParityCase
{
    public string Kind => "xz_attention_masks";

    public bool Handles(string caseName) => caseName == "xz_attention_masks";

    public void Check(FixtureSet fixtures, string caseName, ParityReport report, CancellationToken cancellationToken)
    {
        using var data = fixtures.OpenCase(caseName);
        if (!data.Meta.TryGetProperty("masks", out var masks) || masks.ValueKind != JsonValueKind.Array)
        {
            report.Fail("meta.masks", "missing");
            return;
        }
        foreach (var spec in masks.EnumerateArray())
        {
            cancellationToken.ThrowIfCancellationRequested();
            string name = spec.GetProperty("name").GetString()!;
            var kw = spec.TryGetProperty("kwargs", out var k) ? k : default;
            bool Flag(string key, bool fallback) =>
                kw.ValueKind == JsonValueKind.Object && kw.TryGetProperty(key, out var v) && v.ValueKind is JsonValueKind.True or JsonValueKind.False
                    ? v.GetBoolean() : fallback;
            int? Int(string key) =>
                kw.ValueKind == JsonValueKind.Object && kw.TryGetProperty(key, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetInt32() : null;

            // Defaults are the official signature's: z_causal=False, x_see_z=False, z_see_x=True, group_size=1.
            var blocked = XzAttentionMask.Create(spec.GetProperty("n").GetInt32(), spec.GetProperty("m").GetInt32(),
                zCausal: Flag("z_causal", false), xSeeZ: Flag("x_see_z", false), zSeeX: Flag("z_see_x", true),
                groupSize: Int("group_size") ?? 1, causalNum: Int("causal_num"));
            report.Exact(name, blocked.to(int64), data[name]);
            string additive = name + "_additive_f32";
            if (data.Contains(additive))
                report.Exact(additive, XzAttentionMask.ToAdditive(blocked, float32), data[additive]);
        }
    }
}
