using System.Text.Json;
using DetailFlow.Core.Gpt;
using TorchSharp;
using static TorchSharp.torch;

namespace DetailFlow.Parity;

/// <summary>
/// <c>gpt_forward_&lt;tag&gt;</c> (README "Cases" 1): the training-style forward for every L in <c>meta.calls</c>;
/// logits, the layer-0 input, every layer output and the final norm output within <see cref="Tolerance"/>.
/// </summary>
public sealed class GptForwardCase : IParityCase
{
    public const string Prefix = "gpt_forward_";
    public const double Tolerance = 1e-4;

    public string Kind => "gpt_forward";

    public bool Handles(string caseName) => caseName.StartsWith(Prefix, StringComparison.Ordinal);

    public void Check(FixtureSet fixtures, string caseName, ParityReport report, CancellationToken cancellationToken)
    {
        using var data = fixtures.OpenCase(caseName);
        using var model = GptCaseModels.Load(fixtures, fixtures.GptTagOf(caseName, Prefix, data.Meta));
        var idx = data["idx_full"];
        var classes = data["cond_idx"];
        foreach (var call in data.Meta.GetProperty("calls").EnumerateArray())
        {
            cancellationToken.ThrowIfCancellationRequested();
            int l = call.GetProperty("L").GetInt32();
            using var scope = torch.NewDisposeScope();
            var trace = new GptTrace();
            var logits = model.Forward(idx.narrow(1, 0, l), classes, trace);
            report.Close($"L{l}_logits", logits, data[$"L{l}_logits"], Tolerance);
            report.Close($"L{l}_h_in", trace.Input!, data[$"L{l}_h_in"], Tolerance);
            for (int i = 0; i < trace.LayerOutputs.Count; i++)
                report.Close($"L{l}_layer{i}_out", trace.LayerOutputs[i], data[$"L{l}_layer{i}_out"], Tolerance);
            if (data.Contains($"L{l}_layer{trace.LayerOutputs.Count}_out"))
                report.Fail($"L{l}", $"the fixture has more layers than the model's {trace.LayerOutputs.Count}");
            report.Close($"L{l}_final_norm_out", trace.FinalNorm!, data[$"L{l}_final_norm_out"], Tolerance);
        }
    }
}

/// <summary>The model a GPT case names: <c>gpt_&lt;tag&gt;/checkpoint.pt</c> (EMA entry) with that folder's config.json.</summary>
internal static class GptCaseModels
{
    public static GptTransformer Load(FixtureSet fixtures, string tag)
    {
        string dir = fixtures.GptDir(tag);
        var config = GptConfig.Load(Path.Combine(dir, "config.json"));
        return GptTransformer.Load(Path.Combine(dir, "checkpoint.pt"), config);
    }
}
