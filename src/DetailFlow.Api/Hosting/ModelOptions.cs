using DetailFlow.Core.Decoding;
using DetailFlow.Core.Gpt;
using DetailFlow.Core.Runtime;
using DetailFlow.Core.Tokenizer;
using TorchSharp;

namespace DetailFlow.Api.Hosting;

/// <summary>
/// Where the served model comes from (section <c>ModelOptions</c> of the top-level appsettings.json; environment
/// variables such as <c>ModelOptions__GptPath</c> override it). Architecture comes from the checkpoints, not from here.
/// </summary>
public sealed class ModelOptions
{
    /// <summary>GPT checkpoint: a converted <c>gpt.safetensors</c> (with <c>gpt.json</c> beside it) or an official <c>.pt</c>.
    /// Empty (with <see cref="TokenizerPath"/> empty too): the embedded default model (<see cref="DefaultModel"/>).</summary>
    public string GptPath { get; set; } = "";

    /// <summary>Tokenizer checkpoint: a converted <c>tokenizer.safetensors</c> (+ <c>tokenizer.json</c>) or an official <c>.pt</c>.</summary>
    public string TokenizerPath { get; set; } = "";

    /// <summary>Class labels in class-id order (optional; <see cref="LabelsFile"/> wins when both are set).</summary>
    public string[] Labels { get; set; } = [];

    /// <summary>A text file with one class label per line, line i = class i (optional).</summary>
    public string LabelsFile { get; set; } = "";

    /// <summary>Torch device string: <c>cpu</c>, <c>cuda</c>, <c>cuda:1</c>.</summary>
    public string Device { get; set; } = "cpu";

    /// <summary>
    /// Weight precision: <c>Auto</c> (chosen when the model loads, GPT and decoder each: bf16 on a CUDA device that
    /// supports it, on CPU the fastest at the model's own shapes — <see cref="PrecisionProbe"/>), or a fixed
    /// <c>Float32</c>, <c>BFloat16</c>, <c>Float16</c>.
    /// </summary>
    public ModelPrecision DType { get; set; } = ModelPrecision.Auto;

    /// <summary>
    /// How the GPT's and the decoder's linear weights are stored: <c>Auto</c> (timed both ways when the model loads, at
    /// its own shapes and precision — <see cref="PackingProbe"/>), <c>Plain</c>, or <c>Packed</c> (oneDNN's blocked
    /// layout: a bf16/fp16 product on a CPU then skips re-laying the weight out on every call; <see cref="PackedLinear"/>).
    /// </summary>
    public WeightLayout Weights { get; set; } = WeightLayout.Auto;

    /// <summary>
    /// How the GPT's cached steps attend: <c>Auto</c> (timed both ways when the model loads, at one request and at a
    /// full batch — <see cref="AttentionProbe"/>), <c>Sdpa</c> (libtorch), or <c>OnePass</c> (<see cref="CachedAttention"/>:
    /// float32/bfloat16 on a CPU; SDPA elsewhere).
    /// </summary>
    public AttentionKernel Attention { get; set; } = AttentionKernel.Auto;

    /// <summary>
    /// Up to how many rows the GPT's packed bf16 products run in C# rather than in oneDNN (<see cref="BlockedProduct"/>:
    /// a decode step's few rows stream the weights faster there): unset = timed both ways when the model loads, at 2, 4,
    /// 8, … rows (<see cref="BlockedProductProbe"/>); 0 = oneDNN always; N = up to N rows.
    /// </summary>
    public int? HostProductRows { get; set; }

    /// <summary>
    /// How the Torch decoder's layers attend: <c>Auto</c> (timed both ways when the model loads, at each scheduled
    /// sequence length — <see cref="HeadwiseProbe"/>), <c>Sdpa</c> (libtorch's fused attention), or <c>Headwise</c>
    /// (<see cref="HeadwiseAttention"/>: float32/bfloat16 on a CPU; SDPA elsewhere).
    /// </summary>
    public DecoderAttention DecoderAttention { get; set; } = DecoderAttention.Auto;

    /// <summary>Torch intra-op threads of the engine's steps; 0 = from the machine (<see cref="ServingPlan"/>).</summary>
    public int Threads { get; set; }

    /// <summary>
    /// Torch intra-op threads of the decode thread (previews and final images are decoded beside the engine's steps);
    /// 0 = from the machine (<see cref="ServingPlan"/>: on a 2-core host the steps get one core and the decoder the other).
    /// </summary>
    public int DecodeThreads { get; set; }

    /// <summary>
    /// Most decoder tokens (images × (grid cells + latents)) in one decoder call; the decode thread splits larger batches.
    /// 0 = <see cref="Core.Imaging.PreviewDecoder.DefaultRowsPerCall"/> (two 256 px images of DetailFlow-16): bigger calls
    /// are no faster per image on a CPU and leave more freed activations resident between heap trims (docs/memory.md).
    /// </summary>
    public int DecodeRowsPerCall { get; set; }

    /// <summary><see cref="DecodeRowsPerCall"/> in force.</summary>
    public int EffectiveDecodeRowsPerCall => DecodeRowsPerCall > 0 ? DecodeRowsPerCall : Core.Imaging.PreviewDecoder.DefaultRowsPerCall;

    /// <summary>The decode thread's torch threads in force: <see cref="DecodeThreads"/>, else <see cref="Threads"/> (both 0
    /// only in options not bound by the service: libtorch's default).</summary>
    public int EffectiveDecodeThreads => DecodeThreads > 0 ? DecodeThreads : Threads;

    /// <summary>
    /// Both thread counts came from the <see cref="ServingPlan"/> (left at 0): the engine's steps and the decode thread then
    /// each run on every core while the other is idle (<see cref="Batching.CoreShare"/>). Set by the plan, not bound.
    /// </summary>
    public bool CoresShared { get; internal set; }

    /// <summary>
    /// What decodes previews and final images: <c>Torch</c> (the TorchSharp modules) or <c>Onnx</c> (the decoder
    /// exported from the loaded weights, run by ONNX Runtime; CUDA provider when <see cref="Device"/> is a GPU).
    /// </summary>
    public DecoderBackendKind DecoderBackend { get; set; } = DecoderBackendKind.Torch;

    /// <summary>ONNX Runtime intra-op threads for the <c>Onnx</c> decoder; 0 = <see cref="DecodeThreads"/>, else <see cref="Threads"/> if set, else one per core.</summary>
    public int OnnxThreads { get; set; }

    /// <summary>
    /// An exported decoder (<c>detailflow export-onnx</c>) for the <c>Onnx</c> backend; empty = export the loaded
    /// tokenizer's decoder in memory at start-up. The file must come from the same tokenizer.
    /// </summary>
    public string OnnxModelPath { get; set; } = "";

    /// <summary>
    /// Guidance scale for requests that give no <c>cfg_scale</c>; empty = 1.5 (the official default). The embedded default
    /// model is served with 2.5, the setting its evaluation was measured at (<c>models/default/README.md</c>).
    /// </summary>
    public double? CfgScale { get; set; }
}
