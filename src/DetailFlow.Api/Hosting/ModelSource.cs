using DetailFlow.Core.Checkpoints;

namespace DetailFlow.Api.Hosting;

/// <summary>
/// A model pair to serve: the GPT and tokenizer checkpoints (converted safetensors or run <c>.pt</c> files), which nested
/// state dict to read from a <c>.pt</c>, and the class labels. The configured model and every activation are one of these.
/// </summary>
public sealed record ModelSource(string GptPath, string TokenizerPath, IReadOnlyList<string> Labels,
    CheckpointEntry GptEntry = CheckpointEntry.Ema, string? Name = null, string? JobId = null);
