using DetailFlow.Core.Checkpoints;
using System.Globalization;
using System.Text.RegularExpressions;
using DetailFlow.Core.Generation;
using DetailFlow.Core.Gpt;
using TorchSharp;
using static TorchSharp.torch;

namespace DetailFlow.Parity;

/// <summary>
/// <c>gpt_generate_&lt;tag&gt;_cfg&lt;scale&gt;[_gradual]</c> (README "Cases" 2): greedy <c>generate_group_par</c>,
/// reproduced by the <see cref="RecomputeSampler"/> (the official algorithm) and by the KV-cached
/// <see cref="NextDetailEngine"/>.
/// The scale, gradual flag and sampling arguments come from <c>meta.call</c>, the classes from <c>cond_idx</c>, N from
/// the shape of <c>tokens</c>. Tokens must match exactly; the guided, conditional and unconditional step logits within
/// 2e-4 when the scale is ≥ 4, else 1e-4.
/// </summary>
public sealed partial class GptGenerateCase : IParityCase
{
    public const string Prefix = "gpt_generate_";

    public string Kind => "gpt_generate";

    public bool Handles(string caseName) => caseName.StartsWith(Prefix, StringComparison.Ordinal);

    public void Check(FixtureSet fixtures, string caseName, ParityReport report, CancellationToken cancellationToken)
    {
        using var data = fixtures.OpenCase(caseName);
        using var model = GptCaseModels.Load(fixtures, fixtures.GptTagOf(caseName, Prefix, data.Meta));
        var options = OptionsFromCall(data.Meta.GetProperty("call").GetString()!);
        long[] classes = data["cond_idx"].data<long>().ToArray();
        var expectedTokens = data["tokens"];
        int codeCount = (int)expectedTokens.shape[1];
        double atol = options.CfgScale >= 4 ? 2e-4 : 1e-4;

        var records = classes.Select(_ => new StepLogits(codeCount, model.Config.VocabSize)).ToList();
        try
        {
            var rowOptions = classes.Select(_ => options).ToArray();
            var codes = new RecomputeSampler(model).Generate(classes, rowOptions, codeCount, records, cancellationToken);
            Compare(report, "recompute", codes, records, data, atol);
        }
        finally
        {
            foreach (var r in records) r.Dispose();
        }

        // The KV-cached engine (spec §7.4) must reproduce the same official run; all rows share its forwards.
        if (codeCount != model.Config.BlockSize)
        {
            report.Fail("kv", $"the engine generates block_size = {model.Config.BlockSize} codes, the case has {codeCount}");
            return;
        }
        // Both ways a cached forward can attend: libtorch's SDPA and the one-pass kernel (CachedAttention).
        int rows = classes.Length * (options.UsesGuidance ? 2 : 1);
        foreach (bool onePass in new[] { false, true })
        {
            if (onePass && !CachedAttention.Supports(model.DType, model.Device, model.Config.HeadDim)) continue;
            records = classes.Select(_ => new StepLogits(codeCount, model.Config.VocabSize)).ToList();
            try
            {
                model.OnePassAttentionRows = onePass ? rows : 0;
                using var engine = new NextDetailEngine(model, rows);
                var requests = classes.Select((c, i) => new GenerationRequest { ClassLabel = c, Options = options, StepLogits = records[i] }).ToList();
                var codes = engine.Generate(requests, cancellationToken);
                Compare(report, onePass ? "kv one-pass" : "kv", codes, records, data, atol);
            }
            finally
            {
                model.OnePassAttentionRows = 0;
                foreach (var r in records) r.Dispose();
            }
        }
    }

    internal static void Compare(ParityReport report, string engine, long[][] codes, IReadOnlyList<StepLogits> records,
        RawTensorFile data, double atol)
    {
        using var scope = torch.NewDisposeScope();
        var tokens = torch.tensor(codes.SelectMany(c => c).ToArray(), [codes.Length, codes[0].Length]);
        report.Exact($"{engine} tokens", tokens, data["tokens"]);
        report.Close($"{engine} step_logits_cfg", torch.stack(records.Select(r => r.Guided)), data["step_logits_cfg"], atol);
        report.Close($"{engine} step_logits_cond", torch.stack(records.Select(r => r.Cond)), data["step_logits_cond"], atol);
        report.Close($"{engine} step_logits_uncond", torch.stack(records.Select(r => r.Uncond)), data["step_logits_uncond"], atol);
    }

    /// <summary>Reads the sampling arguments of the recorded <c>generate_group_par(...)</c> call.</summary>
    internal static SamplingOptions OptionsFromCall(string call)
    {
        string Arg(string name, string fallback)
        {
            var m = Regex.Match(call, $@"\b{name}\s*=\s*([^,)\s]+)");
            return m.Success ? m.Groups[1].Value : fallback;
        }
        static double Num(string s) => double.Parse(s, NumberStyles.Float, CultureInfo.InvariantCulture);

        bool sampled = Arg("sample_logits", "True") == "True";
        if (sampled)
            throw new InvalidDataException($"only greedy cases (sample_logits=False) can be reproduced; the call was: {call}");
        int topK = (int)Num(Arg("top_k", "0"));
        return new SamplingOptions
        {
            CfgScale = Num(Arg("cfg_scale", "1.0")),
            GradualCfg = Arg("gradual_cfg", "False") == "True",
            Temperature = Num(Arg("temperature", "1.0")),
            TopK = topK > 0 ? topK : null,
            TopP = Num(Arg("top_p", "1.0")),
            Greedy = true,
        };
    }
}
