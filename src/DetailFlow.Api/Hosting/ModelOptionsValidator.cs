using Microsoft.Extensions.Options;

namespace DetailFlow.Api.Hosting;

/// <summary>Start-up checks for <see cref="ModelOptions"/>; every message names the setting and how to fix it.</summary>
public sealed class ModelOptionsValidator : IValidateOptions<ModelOptions>
{
    public const string HowToConfigure =
        "Point the service at a model: set ModelOptions:GptPath and ModelOptions:TokenizerPath in appsettings.json, or the " +
        "environment variables ModelOptions__GptPath=/models/gpt.safetensors ModelOptions__TokenizerPath=/models/tokenizer.safetensors " +
        "(converted with `detailflow convert`, or official .pt checkpoints).";

    public ValidateOptionsResult Validate(string? name, ModelOptions o)
    {
        var errors = new List<string>();
        if (string.IsNullOrWhiteSpace(o.GptPath) && string.IsNullOrWhiteSpace(o.TokenizerPath))
            return ValidateOptionsResult.Fail($"No model configured. {HowToConfigure}");
        CheckFile(errors, "ModelOptions:GptPath", o.GptPath);
        CheckFile(errors, "ModelOptions:TokenizerPath", o.TokenizerPath);
        if (!string.IsNullOrWhiteSpace(o.LabelsFile) && !File.Exists(o.LabelsFile))
            errors.Add($"ModelOptions:LabelsFile = '{o.LabelsFile}': file not found");
        if (o.Labels.Any(string.IsNullOrWhiteSpace))
            errors.Add("ModelOptions:Labels: labels must not be empty");
        if (o.CfgScale is < 1 or double.NaN)
            errors.Add($"ModelOptions:CfgScale = {o.CfgScale}: must be at least 1 (1 = no guidance)");
        if (o.Threads < 0)
            errors.Add($"ModelOptions:Threads = {o.Threads}: must be 0 (from the machine: ServingPlan) or positive");
        if (o.DecodeThreads < 0)
            errors.Add($"ModelOptions:DecodeThreads = {o.DecodeThreads}: must be 0 (from the machine: ServingPlan) or positive");
        if (o.DecodeRowsPerCall < 0)
            errors.Add($"ModelOptions:DecodeRowsPerCall = {o.DecodeRowsPerCall}: must be 0 (the default, {Core.Imaging.PreviewDecoder.DefaultRowsPerCall}) or positive");
        if (o.HostProductRows < 0)
            errors.Add($"ModelOptions:HostProductRows = {o.HostProductRows}: must be unset (timed at load), 0 (oneDNN always) or positive");
        if (o.OnnxThreads < 0)
            errors.Add($"ModelOptions:OnnxThreads = {o.OnnxThreads}: must be 0 (DecodeThreads or Threads, else one per core) or positive");
        if (!Enum.IsDefined(o.DecoderBackend))
            errors.Add($"ModelOptions:DecoderBackend = {o.DecoderBackend}: expected Torch or Onnx");
        if (!string.IsNullOrWhiteSpace(o.OnnxModelPath) && !File.Exists(o.OnnxModelPath))
            errors.Add($"ModelOptions:OnnxModelPath = '{o.OnnxModelPath}': file not found (export one with `detailflow export-onnx`, or leave it empty)");
        if (!Enum.IsDefined(o.DType))
            errors.Add($"ModelOptions:DType = {o.DType}: expected Auto, Float32, Float16 or BFloat16");
        try { _ = TorchSharp.torch.device(o.Device); }
        catch (Exception e) when (e is ArgumentException or FormatException or InvalidOperationException)
        { errors.Add($"ModelOptions:Device = '{o.Device}': {e.Message}"); }
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }

    private static void CheckFile(List<string> errors, string setting, string path)
    {
        if (string.IsNullOrWhiteSpace(path)) errors.Add($"{setting} is not set. {HowToConfigure}");
        else if (!File.Exists(path)) errors.Add($"{setting} = '{path}': file not found");
    }
}
