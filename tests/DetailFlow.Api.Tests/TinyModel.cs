using DetailFlow.Core.Checkpoints;
using DetailFlow.Core.Gpt;
using DetailFlow.Core.Tokenizer;
using TorchSharp;
using TorchSharp.PyBridge;

namespace DetailFlow.Api.Tests;

/// <summary>
/// A tiny random GPT + tokenizer written as converted checkpoints (safetensors + JSON config beside them):
/// N = 32 codes, G = 4, C = 4, vocab 64, 10 classes, images up to 32×32. Built once per test run.
/// </summary>
public static class TinyModel
{
    public static readonly string[] Labels = ["tench", "goldfish", "shark", "hen", "ostrich", "finch", "robin", "jay", "owl", "newt"];
    private static readonly Lazy<string> Folder = new(Build);

    public static string Dir => Folder.Value;
    public static string GptPath => Path.Combine(Dir, "gpt.safetensors");
    public static string TokenizerPath => Path.Combine(Dir, "tokenizer.safetensors");

    private static string Build()
    {
        string dir = Path.Combine(Path.GetTempPath(), "detailflow-api-tests-" + Environment.ProcessId);
        Directory.CreateDirectory(dir);
        torch.manual_seed(7);
        var gptConfig = new GptConfig
        {
            Dim = 32, NLayer = 2, NHead = 2, VocabSize = 64, NumClasses = 10, BlockSize = 32, GroupSize = 4, CausalNum = 4,
            MultipleOf = 32, Format = ModelConverter.GptFormat,
        };
        using (var gpt = new GptTransformer(gptConfig)) Save(gpt, dir, "gpt", gptConfig);
        var vit = new VitConfig { HiddenSize = 32, IntermediateSize = 64, NumHiddenLayers = 1, NumAttentionHeads = 2, NumPatches = 64, PatchSize = 4 };
        var tokConfig = new TokenizerConfig
        {
            ImageSize = 32, MaxImageSize = 32, CodebookSize = 64, CodebookEmbedDim = 8, EncoderModel = "tiny", DecoderModel = "tiny",
            EncPretrained = false, NumLatentTokens = 32, EncPatchSize = 4, DecPatchSize = 4, GroupSize = 4,
            StandInSiglip2Config = vit, Format = ModelConverter.TokenizerFormat,
        }.Resolve();
        using (var vq = new VqModel(tokConfig)) Save(vq, dir, "tokenizer", tokConfig);
        return dir;
    }

    private static void Save<T>(torch.nn.Module model, string dir, string name, T config)
    {
        using var scope = torch.NewDisposeScope();
        var tensors = model.state_dict().Where(kv => !StateDictLoader.IsTrainingOnly(kv.Key))
            .ToDictionary(kv => kv.Key, kv => kv.Value.detach().contiguous());
        Safetensors.SaveStateDict(Path.Combine(dir, name + ".safetensors"), tensors);
        ConfigJson.Write(Path.Combine(dir, name + ".json"), config);
    }
}
