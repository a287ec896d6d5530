using System.Collections.Concurrent;
using DetailFlow.Core.Onnx;
using DetailFlow.Core.Tokenizer;
using Microsoft.ML.OnnxRuntime;
using TorchSharp;
using static TorchSharp.torch;

namespace DetailFlow.Core.Decoding;

/// <summary>
/// The decoder on ONNX Runtime: the graph of <see cref="DecoderOnnxExport"/> (exported in memory from the loaded
/// <see cref="VqModel"/>, or read from a file exported from the same weights) run by one <see cref="InferenceSession"/>.
/// The resized position table of each grid comes from the model (<see cref="SiglipEmbeddings.PositionTable"/>) and
/// is cached as float32; padded rows get a key mask, as in the TorchSharp decoder.
/// </summary>
public sealed class OnnxDecoderBackend : IDecoderBackend
{
    private static readonly string[] InputNames = [DecoderOnnxExport.CodesInput, DecoderOnnxExport.PositionInput, DecoderOnnxExport.KeyMaskInput];
    private static readonly string[] OutputNames = [DecoderOnnxExport.PixelsOutput];

    private readonly VqModel _model;
    private readonly OnnxDecoderSettings _settings;
    private readonly InferenceSession _session;
    private readonly RunOptions _runOptions = new();
    private readonly ConcurrentDictionary<int, float[]> _positions = new();
    private readonly int _hidden;
    private readonly int _codebookSize;

    /// <summary>A session over <paramref name="onnxModel"/> (bytes of a graph exported from <paramref name="model"/>'s weights).</summary>
    public OnnxDecoderBackend(VqModel model, byte[] onnxModel, OnnxDecoderSettings? settings = null)
    {
        _model = model ?? throw new ArgumentNullException(nameof(model));
        ArgumentNullException.ThrowIfNull(onnxModel);
        _settings = settings ?? new OnnxDecoderSettings();
        _settings.Validate();
        _hidden = model.Config.Dec.HiddenSize;
        _codebookSize = model.Config.CodebookSize;
        try
        {
            _session = OpenSession(onnxModel);
        }
        catch
        {
            _runOptions.Dispose();
            throw;
        }
    }

    /// <summary>Exports <paramref name="model"/>'s decoder in memory and opens a session on it.</summary>
    public static OnnxDecoderBackend Create(VqModel model, OnnxDecoderSettings? settings = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        return new OnnxDecoderBackend(model, DecoderOnnxExport.Export(model), settings);
    }

    /// <summary>Opens a session on an exported file; <paramref name="model"/> must hold the weights it was exported from.</summary>
    public static OnnxDecoderBackend Load(VqModel model, string onnxPath, OnnxDecoderSettings? settings = null) =>
        new(model, File.ReadAllBytes(onnxPath), settings);

    public string Name => "onnx";
    public int NumLatentTokens => _model.NumLatentTokens;
    public int PatchSize => _model.decoder.PatchSize;

    /// <summary>The session options <see cref="OnnxDecoderSettings"/> describes.</summary>
    public static SessionOptions SessionOptionsFor(OnnxDecoderSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var options = new SessionOptions
        {
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            IntraOpNumThreads = settings.IntraOpThreads,
            InterOpNumThreads = 1,
        };
        options.AddSessionConfigEntry("session.intra_op.allow_spinning", settings.AllowSpinning ? "1" : "0");
        if (settings.Cuda) options.AppendExecutionProvider_CUDA(settings.CudaDeviceId);
        return options;
    }

    public Tensor Decode(Tensor codes, IReadOnlyList<int> prefixLengths, int imageSize)
    {
        ArgumentNullException.ThrowIfNull(codes);
        ArgumentNullException.ThrowIfNull(prefixLengths);
        if (codes.dim() != 2) throw new ArgumentException($"codes must be [B, t'], got [{string.Join(", ", codes.shape)}]", nameof(codes));
        if (codes.dtype != ScalarType.Int64) throw new ArgumentException($"code indices must be int64, got {codes.dtype}", nameof(codes));
        int batch = (int)codes.shape[0];
        if (prefixLengths.Count != batch)
            throw new ArgumentException($"{prefixLengths.Count} prefix lengths for a batch of {batch}", nameof(prefixLengths));
        foreach (int t in prefixLengths)
            if (t < 1 || t > codes.shape[1] || t > NumLatentTokens)
                throw new ArgumentOutOfRangeException(nameof(prefixLengths), t, $"prefix length must be in [1, min({codes.shape[1]} latents given, {NumLatentTokens})]");
        if (imageSize <= 0 || imageSize % PatchSize != 0)
            throw new ArgumentOutOfRangeException(nameof(imageSize), imageSize, $"image size must be a positive multiple of the patch size {PatchSize}");

        int grid = imageSize / PatchSize, longest = prefixLengths.Max(), length = grid * grid + longest;
        long[] codeData = CodesOf(codes, longest);
        var mask = new int[batch * length];
        for (int b = 0; b < batch; b++) mask.AsSpan(b * length, grid * grid + prefixLengths[b]).Fill(1);

        using var codeValue = OrtValue.CreateTensorValueFromMemory(codeData, [batch, longest]);
        using var maskValue = OrtValue.CreateTensorValueFromMemory(mask, [batch, length]);
        using var positionValue = OrtValue.CreateTensorValueFromMemory(PositionTable(grid), [grid, grid, _hidden]);
        using var outputs = _session.Run(_runOptions, InputNames, [codeValue, positionValue, maskValue], OutputNames);
        var pixels = outputs[0].GetTensorDataAsSpan<float>().ToArray();
        return torch.tensor(pixels, [batch, 3, imageSize, imageSize]);
    }

    private InferenceSession OpenSession(byte[] onnxModel)
    {
        using var options = SessionOptionsFor(_settings);
        var session = new InferenceSession(onnxModel, options);
        try
        {
            CheckMetadata(session.ModelMetadata.CustomMetadataMap, _model);
            return session;
        }
        catch
        {
            session.Dispose();
            throw;
        }
    }

    private long[] CodesOf(Tensor codes, int longest)
    {
        using var scope = NewDisposeScope();
        var data = codes[.., ..longest].to(int64).cpu().contiguous().data<long>().ToArray();
        foreach (long c in data)
            if (c < 0 || c >= _codebookSize)
                throw new ArgumentOutOfRangeException(nameof(codes), c, $"code indices must be in [0, {_codebookSize})");
        return data;
    }

    /// <summary>The model's position table resized to grid × grid, float32 row-major [g, g, D] (cached per grid).</summary>
    private float[] PositionTable(int grid) => _positions.GetOrAdd(grid, g =>
    {
        using var noGrad = torch.no_grad();
        using var scope = NewDisposeScope();
        return _model.decoder.visual_model.embeddings.PositionTable(g, g).to(float32).cpu().contiguous().data<float>().ToArray();
    });

    private static void CheckMetadata(IReadOnlyDictionary<string, string> metadata, VqModel model)
    {
        foreach (var (key, expected) in DecoderOnnxExport.Metadata(model))
        {
            if (!metadata.TryGetValue(key, out var value))
                throw new InvalidDataException($"the ONNX model lacks metadata {key}: not a DetailFlow decoder export");
            if (value != expected)
                throw new InvalidDataException($"the ONNX model's {key} is {value}, the tokenizer's is {expected}: export the decoder from this tokenizer");
        }
    }

    public void Dispose()
    {
        _session.Dispose();
        _runOptions.Dispose();
    }
}
