using DetailFlow.Cli.Bench;

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

    /// <summary>The <c>tiny</c> preset of <c>detailflow bench model</c>, with the tokenizer's encoder (tests encode too).</summary>
    private static string Build()
    {
        string dir = Path.Combine(Path.GetTempPath(), "detailflow-api-tests-" + Environment.ProcessId);
        RandomModelPreset.Find("tiny")!.Write(dir, seed: 7, decoderOnly: false);
        return dir;
    }
}
