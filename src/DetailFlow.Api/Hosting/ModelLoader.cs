using System.Security.Cryptography;
using System.Text;
using DetailFlow.Core.Decoding;
using DetailFlow.Core.Gpt;
using DetailFlow.Core.Imaging;
using DetailFlow.Core.Tokenizer;
using Microsoft.Extensions.Options;
using TorchSharp;

namespace DetailFlow.Api.Hosting;

/// <summary>
/// Loads the GPT and the decoder half of the tokenizer (converted safetensors or official checkpoints), checks that
/// they belong together, builds the decoder backend (ModelOptions:DecoderBackend) and runs one warm-up forward + decode.
/// Called on the inference thread.
/// </summary>
public sealed class ModelLoader(IOptions<ModelOptions> options, ILogger<ModelLoader> logger)
{
    public LoadedModel Load()
    {
        var o = options.Value;
        if (o.Threads > 0) torch.set_num_threads(o.Threads);
        var device = torch.device(o.Device);
        GptTransformer gpt;
        try { gpt = GptTransformer.Load(o.GptPath, dtype: o.DType, device: device); }
        catch (Exception e) when (e is not OutOfMemoryException)
        { throw new InvalidOperationException($"ModelOptions:GptPath = '{o.GptPath}': cannot load the GPT: {e.Message}", e); }
        VqModel vq;
        try { vq = VqModel.Load(o.TokenizerPath, dtype: o.DType, device: device, decoderOnly: true); }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            gpt.Dispose();
            throw new InvalidOperationException($"ModelOptions:TokenizerPath = '{o.TokenizerPath}': cannot load the tokenizer: {e.Message}", e);
        }
        IDecoderBackend decoder;
        try { decoder = CreateDecoder(o, vq); }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            gpt.Dispose();
            vq.Dispose();
            throw new InvalidOperationException($"ModelOptions:DecoderBackend = {o.DecoderBackend}: cannot build the decoder: {e.Message}", e);
        }
        var labels = ReadLabels(o);
        var model = new LoadedModel(gpt, vq, labels, Path.GetFileNameWithoutExtension(o.GptPath), Fingerprint(o), decoder);
        try { Check(model, o); Warmup(model); }
        catch { model.Dispose(); throw; }
        logger.LogInformation("Model {Name} loaded ({Gpt}; {Classes} classes, {Labels} labels, N = {N}) on {Device}, decoder {Decoder}, fingerprint {Fingerprint}",
            model.Name, gpt.Config, gpt.Config.NumClasses, labels.Count, model.MaxTokens, o.Device, model.Decoder.Name, model.Fingerprint);
        return model;
    }

    /// <summary>The configured decoder backend over the loaded tokenizer.</summary>
    internal static IDecoderBackend CreateDecoder(ModelOptions o, VqModel vq)
    {
        if (o.DecoderBackend == DecoderBackendKind.Torch) return new TorchDecoderBackend(vq);
        var device = torch.device(o.Device);
        var settings = new OnnxDecoderSettings
        {
            IntraOpThreads = o.OnnxThreads > 0 ? o.OnnxThreads : o.Threads > 0 ? o.Threads : Environment.ProcessorCount,
            Cuda = device.type == DeviceType.CUDA,
            CudaDeviceId = Math.Max(0, (int)device.index),
        };
        return string.IsNullOrWhiteSpace(o.OnnxModelPath)
            ? OnnxDecoderBackend.Create(vq, settings)
            : OnnxDecoderBackend.Load(vq, o.OnnxModelPath, settings);
    }

    private static void Check(LoadedModel m, ModelOptions o)
    {
        var g = m.GptConfig;
        var t = m.Tokenizer.Config;
        if (g.BlockSize != t.NumLatentTokens || g.GroupSize != t.GroupSize || g.EffectiveCausalNum != t.EffectiveCausalNum || g.VocabSize != t.CodebookSize)
            throw new InvalidOperationException(
                $"ModelOptions:GptPath '{o.GptPath}' and ModelOptions:TokenizerPath '{o.TokenizerPath}' do not match: GPT N {g.BlockSize}, G {g.GroupSize}, " +
                $"C {g.EffectiveCausalNum}, vocab {g.VocabSize} vs tokenizer N {t.NumLatentTokens}, G {t.GroupSize}, C {t.EffectiveCausalNum}, codebook {t.CodebookSize}");
        if (m.Labels.Count > 0 && m.Labels.Count != g.NumClasses)
            throw new InvalidOperationException(
                $"ModelOptions:{(string.IsNullOrWhiteSpace(o.LabelsFile) ? "Labels" : "LabelsFile")}: {m.Labels.Count} labels, but the model has {g.NumClasses} classes");
    }

    /// <summary>One forward and one decode, so the first request does not pay for libtorch's lazy initialisation.</summary>
    private static void Warmup(LoadedModel m)
    {
        using var noGrad = torch.no_grad();
        using var scope = torch.NewDisposeScope();
        var codes = torch.zeros(1, m.GptConfig.EffectiveCausalNum, torch.int64, device: m.Gpt.Device);
        var classes = torch.zeros(1, torch.int64, device: m.Gpt.Device);
        _ = m.Gpt.Forward(codes, classes);
        int t = m.Schedule.ValidPrefixes[0];
        _ = m.Previews.Render([new PreviewItem(new long[t], t)]);
    }

    private static IReadOnlyList<string> ReadLabels(ModelOptions o) =>
        !string.IsNullOrWhiteSpace(o.LabelsFile)
            ? File.ReadAllLines(o.LabelsFile).Select(l => l.Trim()).Where(l => l.Length > 0).ToArray()
            : o.Labels;

    private static string Fingerprint(ModelOptions o)
    {
        var text = new StringBuilder();
        foreach (var path in new[] { o.GptPath, o.TokenizerPath })
        {
            var info = new FileInfo(path);
            text.Append(info.Name).Append('|').Append(info.Length).Append('|').Append(info.LastWriteTimeUtc.Ticks).Append('|');
            var json = Path.ChangeExtension(path, ".json");
            if (File.Exists(json)) text.Append(File.ReadAllText(json));
        }
        text.Append(o.DType);
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text.ToString())))[..16];
    }
}
