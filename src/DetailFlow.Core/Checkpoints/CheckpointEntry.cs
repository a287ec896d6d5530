namespace DetailFlow.Core.Checkpoints;

/// <summary>Which state dict of a nested official checkpoint to read (spec §4.1, §12 item 19).</summary>
public enum CheckpointEntry
{
    /// <summary>Tokenizer rule (<c>load_vq_model</c>, ema=False): <c>model</c>; a flat file is used as is.</summary>
    Model,

    /// <summary>GPT rule (<c>load_ar_model</c>, ema=True): <c>ema</c>; a flat file is used as is.</summary>
    Ema,

    /// <summary>GPT rule without EMA: <c>model</c>, then <c>module</c>, then <c>state_dict</c>; a flat file as is.</summary>
    ModelModuleOrStateDict,
}
