using System.Text.Json;
using DetailFlow.Core.Generation;

namespace DetailFlow.Parity;

/// <summary><c>resolution_tables.json</c>: every table of every configuration, exactly (spec §5).</summary>
public sealed class ResolutionTablesCase : IParityCase
{
    public string Kind => "resolution_tables";

    public bool Handles(string caseName) => caseName == "resolution_tables";

    public void Check(FixtureSet fixtures, string caseName, ParityReport report, CancellationToken cancellationToken)
    {
        using var doc = fixtures.ReadJson(caseName);
        foreach (var config in doc.RootElement.GetProperty("configs").EnumerateObject())
        {
            var a = config.Value.GetProperty("args");
            int? causal = a.GetProperty("causal_num").ValueKind == JsonValueKind.Null ? null : a.GetProperty("causal_num").GetInt32();
            var s = new ResolutionSchedule(a.GetProperty("max_img_size").GetInt32(), a.GetProperty("max_token_num").GetInt32(),
                a.GetProperty("group_size").GetInt32(), causal, a.GetProperty("p").GetDouble(),
                a.GetProperty("enc_patch_size").GetInt32(), a.GetProperty("dec_patch_size").GetInt32(),
                a.GetProperty("min_dec_res").GetInt32());
            var tables = config.Value.GetProperty("tables");
            string n = config.Name;
            foreach (var table in tables.EnumerateObject())
            {
                string what = $"{n}.{table.Name}";
                string actual = table.Name switch
                {
                    "token_list" => Join(s.ValidPrefixes),
                    "token2res" => Map(s.ValidPrefixes, s.Resolution),
                    "token2dec_res" => Map(s.ValidPrefixes, s.DecoderResolutionRaw),
                    "token2enc_res" => Map(s.ValidPrefixes, s.EncoderResolution),
                    "token2dec_out_res" => Map(s.ValidPrefixes, s.DecoderResolution),
                    "decres2besttoken" => Pairs(s.BestTokens),
                    "encres2besttoken" => Pairs(s.EncoderBestTokens),
                    "decres2mintoken" => Pairs(s.MinTokens.Select(kv => (kv.Key, kv.Value))),
                    "decres2maxtoken" => Pairs(s.MaxTokens.Select(kv => (kv.Key, kv.Value))),
                    "best_res" => Join(s.Resolutions),
                    "best_token" => Join(s.BestTokens.Select(e => e.Tokens).Order()),
                    _ => throw new InvalidDataException($"{what}: unknown table"),
                };
                report.Equal(what, actual, Canonical(table.Value));
            }
        }
    }

    private static string Join(IEnumerable<int> values) => string.Join(",", values);

    private static string Map(IEnumerable<int> keys, Func<int, int> f) => string.Join(",", keys.Select(k => $"{k}:{f(k)}"));

    private static string Pairs(IEnumerable<(int, int)> pairs) => string.Join(",", pairs.Select(p => $"{p.Item1}:{p.Item2}"));

    /// <summary>Lists as "a,b"; dicts (stringified int keys, insertion order) as "k:v,k:v".</summary>
    private static string Canonical(JsonElement e) => e.ValueKind == JsonValueKind.Array
        ? string.Join(",", e.EnumerateArray().Select(x => x.GetInt32()))
        : string.Join(",", e.EnumerateObject().Select(p => $"{p.Name}:{p.Value.GetInt32()}"));
}
