using DetailFlow.Core.Gpt;
using DetailFlow.Core.Tokenizer;
using TorchSharp;
using TorchSharp.PyBridge;
using static TorchSharp.torch;

namespace DetailFlow.Core.Checkpoints;

/// <summary>
/// Official checkpoint → <c>&lt;name&gt;.safetensors</c> + <c>&lt;name&gt;.json</c> (the resolved config, every size
/// explicit), so serving never unpickles. The weights go through the strict loader first, so a converted file always
/// holds exactly the module's keys; training-only tensors are dropped.
/// </summary>
public static class ModelConverter
{
    public const string TokenizerFormat = "detailflow.tokenizer/1";
    public const string GptFormat = "detailflow.gpt/1";

    public sealed record Converted(string WeightsPath, string ConfigPath, int Tensors, long Parameters);

    public static Converted ConvertTokenizer(string checkpointPath, string outDir, TokenizerConfig? config = null,
        CheckpointEntry entry = CheckpointEntry.Model, ScalarType dtype = ScalarType.Float32, string name = "tokenizer")
    {
        using var model = VqModel.Load(checkpointPath, config, entry);
        var resolved = model.Config with { Format = TokenizerFormat };
        return Write(model, outDir, name, dtype, () => ConfigJson.Write(Path.Combine(outDir, name + ".json"), resolved));
    }

    public static Converted ConvertGpt(string checkpointPath, string outDir, GptConfig? config = null,
        CheckpointEntry entry = CheckpointEntry.Ema, ScalarType dtype = ScalarType.Float32, string name = "gpt")
    {
        using var model = GptTransformer.Load(checkpointPath, config, entry);
        var resolved = model.Config with { Format = GptFormat };
        return Write(model, outDir, name, dtype, () => ConfigJson.Write(Path.Combine(outDir, name + ".json"), resolved));
    }

    /// <summary>Writes an in-memory GPT (e.g. randomly initialised) as <c>&lt;name&gt;.safetensors</c> + <c>&lt;name&gt;.json</c>.</summary>
    public static Converted SaveGpt(GptTransformer model, string outDir, string name = "gpt")
    {
        var resolved = model.Config with { Format = GptFormat };
        return Write(model, outDir, name, ScalarType.Float32, () => ConfigJson.Write(Path.Combine(outDir, name + ".json"), resolved));
    }

    /// <summary>Writes an in-memory tokenizer (a decoder-only one holds only the decoder side's keys).</summary>
    public static Converted SaveTokenizer(VqModel model, string outDir, string name = "tokenizer")
    {
        var resolved = model.Config with { Format = TokenizerFormat };
        return Write(model, outDir, name, ScalarType.Float32, () => ConfigJson.Write(Path.Combine(outDir, name + ".json"), resolved));
    }

    private static Converted Write(nn.Module model, string outDir, string name, ScalarType dtype, Action writeConfig)
    {
        if (dtype is not (ScalarType.Float32 or ScalarType.Float16 or ScalarType.BFloat16))
            throw new ArgumentException($"dtype {dtype}: expected Float32, Float16 or BFloat16", nameof(dtype));
        Directory.CreateDirectory(outDir);
        using var scope = torch.NewDisposeScope();
        var tensors = model.state_dict()
            .Where(kv => !StateDictLoader.IsTrainingOnly(kv.Key))
            .ToDictionary(kv => kv.Key, kv => kv.Value.detach().to(dtype).contiguous());
        string weights = Path.Combine(outDir, name + ".safetensors");
        Safetensors.SaveStateDict(weights, tensors);
        writeConfig();
        return new Converted(weights, Path.Combine(outDir, name + ".json"), tensors.Count, tensors.Values.Sum(t => t.numel()));
    }
}
