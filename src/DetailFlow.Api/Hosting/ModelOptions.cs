using TorchSharp;

namespace DetailFlow.Api.Hosting;

/// <summary>
/// Where the served model comes from (section <c>ModelOptions</c> of the top-level appsettings.json; environment
/// variables such as <c>ModelOptions__GptPath</c> override it). Architecture comes from the checkpoints, not from here.
/// </summary>
public sealed class ModelOptions
{
    /// <summary>GPT checkpoint: a converted <c>gpt.safetensors</c> (with <c>gpt.json</c> beside it) or an official <c>.pt</c>.</summary>
    public string GptPath { get; set; } = "";

    /// <summary>Tokenizer checkpoint: a converted <c>tokenizer.safetensors</c> (+ <c>tokenizer.json</c>) or an official <c>.pt</c>.</summary>
    public string TokenizerPath { get; set; } = "";

    /// <summary>Class labels in class-id order (optional; <see cref="LabelsFile"/> wins when both are set).</summary>
    public string[] Labels { get; set; } = [];

    /// <summary>A text file with one class label per line, line i = class i (optional).</summary>
    public string LabelsFile { get; set; } = "";

    /// <summary>Torch device string: <c>cpu</c>, <c>cuda</c>, <c>cuda:1</c>.</summary>
    public string Device { get; set; } = "cpu";

    public torch.ScalarType DType { get; set; } = torch.ScalarType.Float32;

    /// <summary>Torch intra-op threads; 0 = libtorch's default (one per core).</summary>
    public int Threads { get; set; }
}
