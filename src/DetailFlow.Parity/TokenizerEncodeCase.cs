using System.Text.RegularExpressions;
using DetailFlow.Core.Tokenizer;
using static TorchSharp.torch;

namespace DetailFlow.Parity;

/// <summary>
/// <c>tokenizer_encode</c>: the encoder's intermediate tensors, <c>vq.encode(image[, cur_max_token_num=m])</c>
/// (code vectors, indices), the group cosine statistic and the reconstructions <c>vq(image, m, img_size)</c>.
/// Every m and image size comes from the tensor names and shapes.
/// </summary>
public sealed partial class TokenizerEncodeCase : IParityCase
{
    private const double PatchAtol = 1e-6;
    private const double EmbedAtol = 1e-5;
    private const double HiddenAtol = 1e-4;
    private const double QuantAtol = 1e-5;
    private const double PixelAtol = 1e-4;

    public string Kind => "tokenizer_encode";

    public bool Handles(string caseName) => caseName == "tokenizer_encode";

    public void Check(FixtureSet fixtures, string caseName, ParityReport report, CancellationToken cancellationToken)
    {
        using var model = TokenizerFixtureModel.Load(fixtures);
        using var data = fixtures.OpenCase(caseName);
        var encoder = model.encoder!;
        var image = data["image"];

        report.Close("enc_patches", PatchLayout.Patchify(image, encoder.PatchSize), data["enc_patches"], PatchAtol);
        report.Close("enc_patch_embed", encoder.EmbedImages(image), data["enc_patch_embed"], EmbedAtol);
        var (hidden, latents) = encoder.Forward(image, (int)data["enc_latent_tokens"].shape[1]);
        report.Close("enc_hidden_states", hidden, data["enc_hidden_states"], HiddenAtol);
        report.Close("enc_latent_tokens", latents, data["enc_latent_tokens"], HiddenAtol);
        report.Close("quant_conv_out", model.quant_conv!.forward(latents), data["quant_conv_out"], QuantAtol);

        var (codes, quant) = model.Encode(image);
        report.Close("quant", quant, data["quant"], QuantAtol);
        report.Exact("indices", codes, data["indices"]);
        if (data.Contains("avg_cos_sim"))
            report.Close("avg_cos_sim", AverageCosineSimilarity.OfGroups(quant, model.Config.GroupSize).reshape(1),
                data["avg_cos_sim"], QuantAtol);

        foreach (var name in data.Names)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (QuantCur().Match(name) is { Success: true } q)
            {
                int m = int.Parse(q.Groups[1].Value);
                var (codesM, quantM) = model.Encode(image, m);
                report.Close(name, quantM, data[name], QuantAtol);
                string indicesName = $"indices_cur{m}";
                if (data.Contains(indicesName)) report.Exact(indicesName, codesM, data[indicesName]);
                else report.Fail(indicesName, "missing beside " + name);
            }
            else if (ReconT().Match(name) is { Success: true } r)
            {
                int t = int.Parse(r.Groups[1].Value);
                report.Close(name, model.Reconstruct(image, t, (int)data[name].shape[^1]), data[name], PixelAtol);
            }
        }
        if (data.Contains("recon_full"))
            report.Close("recon_full", model.Reconstruct(image, null, (int)data["recon_full"].shape[^1]), data["recon_full"], PixelAtol);
    }

    [GeneratedRegex(@"^quant_cur(\d+)$")]
    private static partial Regex QuantCur();

    [GeneratedRegex(@"^recon_t(\d+)$")]
    private static partial Regex ReconT();
}
