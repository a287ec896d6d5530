using System.Text.Json;
using System.Text.RegularExpressions;
using DetailFlow.Core.Decoding;
using DetailFlow.Core.Tokenizer;
using static TorchSharp.torch;

namespace DetailFlow.Parity;

/// <summary>
/// <c>tokenizer_decode</c>: normalised codebook rows, <c>post_quant_conv</c>, every <c>decode_code(codes, t, img_size)</c>
/// listed in <c>meta.calls</c>, and the decoder's position table resized to each grid of <c>meta.grids</c>. The
/// <c>decode_code</c> calls run through the decoder backend that <paramref name="backend"/> builds for the fixture
/// model (default: the TorchSharp modules).
/// </summary>
public sealed partial class TokenizerDecodeCase(Func<VqModel, IDecoderBackend>? backend = null) : IParityCase
{
    private readonly Func<VqModel, IDecoderBackend> _backend = backend ?? (m => new TorchDecoderBackend(m));

    private const double CodeAtol = 1e-5;
    private const double PostQuantAtol = 1e-4;
    private const double PixelAtol = 1e-4;
    private const double PositionAtol = 1e-5;

    public string Kind => "tokenizer_decode";

    public bool Handles(string caseName) => caseName == "tokenizer_decode";

    public void Check(FixtureSet fixtures, string caseName, ParityReport report, CancellationToken cancellationToken)
    {
        using var model = TokenizerFixtureModel.Load(fixtures, decoderOnly: true);
        using var data = fixtures.OpenCase(caseName);
        var codes = data["codes"];
        using var decoder = _backend(model);

        var entries = model.quantize.GetCodebookEntry(codes);
        report.Close("codebook_entries", entries, data["codebook_entries"], CodeAtol);
        report.Close("post_quant", model.post_quant_conv.forward(entries), data["post_quant"], PostQuantAtol);

        if (!data.Meta.TryGetProperty("calls", out var calls) || calls.ValueKind != JsonValueKind.Array)
            report.Fail("meta.calls", "missing");
        else
            foreach (var call in calls.EnumerateArray())
            {
                cancellationToken.ThrowIfCancellationRequested();
                int t = call.GetProperty("t").GetInt32();
                int size = call.GetProperty("img_size").GetInt32();
                string name = call.TryGetProperty("tensor", out var tn) ? tn.GetString()! : $"pixels_t{t}_res{size}";
                using var pixels = decoder.Decode(codes, t, size);
                report.Close(name, pixels, data[name], PixelAtol);
            }

        var grids = data.Meta.TryGetProperty("grids", out var g) && g.ValueKind == JsonValueKind.Array
            ? g.EnumerateArray().Select(e => e.GetInt32()).ToList()
            : data.Names.Select(n => GridName().Match(n)).Where(m => m.Success).Select(m => int.Parse(m.Groups[1].Value)).ToList();
        foreach (int grid in grids)
            report.Close($"dec_pos_resized_g{grid}", model.decoder.visual_model.embeddings.PositionTable(grid, grid),
                data[$"dec_pos_resized_g{grid}"], PositionAtol);
    }

    [GeneratedRegex(@"^dec_pos_resized_g(\d+)$")]
    private static partial Regex GridName();
}
