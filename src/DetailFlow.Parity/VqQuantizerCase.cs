using DetailFlow.Core.Tokenizer;
using static TorchSharp.torch;

namespace DetailFlow.Parity;

/// <summary>
/// <c>vq_quantizer</c>: the tokenizer's l2-normalised quantizer (nearest code, code vectors, normalised codebook,
/// <c>get_codebook_entry</c> flat and 4-d channel-first) and a plain Euclidean quantizer over <c>nol2_codebook</c>.
/// </summary>
public sealed class VqQuantizerCase : IParityCase
{
    private const double CodeAtol = 1e-5;

    public string Kind => "vq_quantizer";

    public bool Handles(string caseName) => caseName == "vq_quantizer";

    public void Check(FixtureSet fixtures, string caseName, ParityReport report, CancellationToken cancellationToken)
    {
        using var model = TokenizerFixtureModel.Load(fixtures, decoderOnly: true);
        using var data = fixtures.OpenCase(caseName);
        var quantizer = model.quantize;

        var (zq, indices) = quantizer.Quantize(data["z"]);
        report.Close("z_q", zq, data["z_q"], CodeAtol);
        report.Exact("indices", indices, data["indices"]);
        report.Close("codebook_normalized", quantizer.Codebook(), data["codebook_normalized"], CodeAtol);
        report.Close("gce_out", quantizer.GetCodebookEntry(data["gce_ids"]), data["gce_out"], CodeAtol);
        var gce4Shape = data["gce4_out"].shape; // (b, c, h, w) as passed to get_codebook_entry
        report.Close("gce4_out", quantizer.GetCodebookEntry(data["gce4_ids"], gce4Shape, channelFirst: true), data["gce4_out"], CodeAtol);

        var codebook = data["nol2_codebook"];
        using var plain = new VectorQuantizer((int)codebook.shape[0], (int)codebook.shape[1], l2Norm: false, showUsage: false);
        plain.embedding.weight!.copy_(codebook);
        var (plainZq, plainIndices) = plain.Quantize(data["nol2_z"]);
        report.Close("nol2_z_q", plainZq, data["nol2_z_q"], CodeAtol);
        report.Exact("nol2_indices", plainIndices, data["nol2_indices"]);
    }
}
