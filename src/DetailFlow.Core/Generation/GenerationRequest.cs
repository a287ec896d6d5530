using DetailFlow.Core.Gpt;

namespace DetailFlow.Core.Generation;

/// <summary>
/// One image to generate with <see cref="NextDetailEngine"/>: a class label, sampling options, the detail t to stop
/// at (a valid prefix length; null = all N codes), optionally a <see cref="Prefix"/> of codes already generated
/// (continuation: the codes of seed s at a coarser detail continue exactly as uninterrupted generation would),
/// a progress callback, an optional step-logits record and a cancellation token.
/// </summary>
public sealed record GenerationRequest
{
    public required long ClassLabel { get; init; }
    public SamplingOptions Options { get; init; } = new();
    public int? Detail { get; init; }
    public IReadOnlyList<long>? Prefix { get; init; }
    public Action<GroupProgress>? Progress { get; init; }
    public StepLogits? StepLogits { get; init; }
    public CancellationToken CancellationToken { get; init; }

    /// <summary>
    /// Codes wanted early (a stream's first preview): until the request holds this many, its steps may run apart from
    /// batch mates that feed whole groups (<see cref="NextDetailEngine"/>), so its first codes do not wait for their
    /// steps. 0: none.
    /// </summary>
    public int EagerCodes { get; init; }

    /// <summary>Throws <see cref="ArgumentException"/> naming the bad field; no tensor work.</summary>
    public void Validate(GptConfig config)
    {
        Options.Validate(config, [ClassLabel]);
        var layout = SequenceLayout.Of(config);
        int target = Detail ?? config.BlockSize;
        if (!layout.IsOnSchedule(target))
            throw new ArgumentOutOfRangeException(nameof(Detail), target,
                $"Detail = {target}: not on the schedule (1..{layout.CausalNum} or a multiple of {layout.GroupSize} up to {config.BlockSize})");
        int given = Prefix?.Count ?? 0;
        if (given > 0 && !layout.IsOnSchedule(given))
            throw new ArgumentOutOfRangeException(nameof(Prefix), given, $"Prefix of {given} codes: its length is not on the schedule");
        if (given > target)
            throw new ArgumentOutOfRangeException(nameof(Prefix), given, $"Prefix of {given} codes is longer than Detail = {target}");
        if (Prefix is not null && Prefix.Any(c => c < 0 || c >= config.VocabSize))
            throw new ArgumentOutOfRangeException(nameof(Prefix), $"Prefix holds a code outside 0..{config.VocabSize - 1}");
        if (EagerCodes < 0 || EagerCodes > target)
            throw new ArgumentOutOfRangeException(nameof(EagerCodes), EagerCodes, $"EagerCodes = {EagerCodes}: must be in 0..{target} (the detail)");
        if (StepLogits is { } record && (record.Guided.shape[0] != config.BlockSize || record.Guided.shape[1] != config.VocabSize))
            throw new ArgumentException($"StepLogits must be [{config.BlockSize}, {config.VocabSize}]", nameof(StepLogits));
    }
}
