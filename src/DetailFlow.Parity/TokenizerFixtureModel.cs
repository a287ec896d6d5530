using DetailFlow.Core.Checkpoints;
using DetailFlow.Core.Tokenizer;

namespace DetailFlow.Parity;

/// <summary>The fixtures' single tokenizer: <c>vq_&lt;tag&gt;/checkpoint.pt</c> (entry <c>model</c>) with its <c>config.json</c>.</summary>
public static class TokenizerFixtureModel
{
    public static VqModel Load(FixtureSet fixtures, bool decoderOnly = false)
    {
        string dir = fixtures.VqDir(fixtures.VqTag);
        var config = TokenizerConfig.Load(Path.Combine(dir, "config.json"));
        return VqModel.Load(Path.Combine(dir, "checkpoint.pt"), config, CheckpointEntry.Model, decoderOnly: decoderOnly);
    }
}
