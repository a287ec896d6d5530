using System.CommandLine;
using DetailFlow.Cli.Console;
using DetailFlow.Core.Checkpoints;
using DetailFlow.Core.Gpt;
using DetailFlow.Core.Tokenizer;
using static TorchSharp.torch;

namespace DetailFlow.Cli.Commands;

/// <summary>
/// <c>detailflow convert --tokenizer CKPT --gpt CKPT --out DIR</c>: official <c>.pt</c> files → safetensors + one JSON
/// config per model (<c>tokenizer.*</c>, <c>gpt.*</c>), loaded strictly on the way.
/// </summary>
public sealed class ConvertCommand : BaseCommand
{
    private static readonly Option<FileInfo?> s_tokenizer = new("--tokenizer") { Description = "Tokenizer checkpoint (.pt, .safetensors); its 'model' entry is read" };
    private static readonly Option<FileInfo?> s_gpt = new("--gpt") { Description = "GPT checkpoint (.pt, .safetensors); its 'ema' entry is read unless --gpt-no-ema" };
    private static readonly Option<DirectoryInfo> s_out = new("--out") { Description = "Output folder", Required = true };
    private static readonly Option<FileInfo?> s_tokenizerConfig = new("--tokenizer-config") { Description = "Tokenizer config.json (default: found beside the checkpoint as the official loader does)" };
    private static readonly Option<FileInfo?> s_gptConfig = new("--gpt-config") { Description = "GPT config.json (default: found beside the checkpoint)" };
    private static readonly Option<FileInfo?> s_tokenizerYaml = new("--tokenizer-yaml") { Description = "Tokenizer config.yaml (degradation_power)" };
    private static readonly Option<FileInfo?> s_gptYaml = new("--gpt-yaml") { Description = "GPT config.yaml (gpt_model size preset)" };
    private static readonly Option<bool> s_gptNoEma = new("--gpt-no-ema") { Description = "Read the GPT's 'model' (then 'module', 'state_dict') entry instead of 'ema'" };
    private static readonly Option<string> s_dtype = new("--dtype")
    {
        Description = "Stored precision: fp32 (default), fp16 or bf16",
        DefaultValueFactory = _ => "fp32",
    };

    public ConvertCommand(IConsoleUi ui) : base("convert", "Convert official checkpoints to safetensors + JSON configs for serving", ui)
    {
        s_dtype.AcceptOnlyFromAmong("fp32", "fp16", "bf16");
        foreach (var o in new Option[] { s_tokenizer, s_gpt, s_out, s_tokenizerConfig, s_tokenizerYaml, s_gptConfig, s_gptYaml, s_gptNoEma, s_dtype })
            Options.Add(o);
    }

    protected override Task<int> ExecuteAsync(ParseResult parseResult, CancellationToken cancellationToken)
    {
        var tokenizer = parseResult.GetValue(s_tokenizer);
        var gpt = parseResult.GetValue(s_gpt);
        if (tokenizer is null && gpt is null)
        {
            Ui.Error("nothing to convert: give --tokenizer and/or --gpt");
            return Task.FromResult(ExitCodes.InvalidInput);
        }
        string outDir = parseResult.GetValue(s_out)!.FullName;
        var dtype = parseResult.GetValue(s_dtype) switch { "fp16" => ScalarType.Float16, "bf16" => ScalarType.BFloat16, _ => ScalarType.Float32 };

        if (tokenizer is not null)
        {
            var config = parseResult.GetValue(s_tokenizerConfig) is { } json
                ? TokenizerConfig.Load(json.FullName, parseResult.GetValue(s_tokenizerYaml)?.FullName) : null;
            Report("tokenizer", ModelConverter.ConvertTokenizer(tokenizer.FullName, outDir, config, CheckpointEntry.Model, dtype));
        }
        cancellationToken.ThrowIfCancellationRequested();
        if (gpt is not null)
        {
            var config = parseResult.GetValue(s_gptConfig) is { } json
                ? GptConfig.Load(json.FullName, parseResult.GetValue(s_gptYaml)?.FullName) : null;
            var entry = parseResult.GetValue(s_gptNoEma) ? CheckpointEntry.ModelModuleOrStateDict : CheckpointEntry.Ema;
            Report("gpt", ModelConverter.ConvertGpt(gpt.FullName, outDir, config, entry, dtype));
        }
        return Task.FromResult(ExitCodes.Success);
    }

    private void Report(string what, ModelConverter.Converted c) =>
        Ui.Success($"{what}: {c.Tensors} tensors, {c.Parameters:N0} parameters → {c.WeightsPath} + {Path.GetFileName(c.ConfigPath)}");
}
