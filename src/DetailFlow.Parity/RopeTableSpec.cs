using System.Text.Json;

namespace DetailFlow.Parity;

/// <summary>The arguments of <c>precompute_freqs_cis_2d_nonsquare(grid_height, grid_width, n_elem, base, cls_token_num)</c>.</summary>
public sealed record RotaryTableArgs(int GridHeight, int GridWidth, int HeadDim, double RopeBase, int ClsTokenNum);

/// <summary>The arguments of <c>create_group_causal_mask(size, group_size, causal_num)</c>.</summary>
public sealed record GroupMaskArgs(int Size, int GroupSize, int CausalNum);

/// <summary>
/// One entry of <c>gpt_rope_and_mask</c>'s <c>meta.tables</c>, read as data: its fields (block_size, group_size,
/// causal_num, head_dim, cls_token_num, rope_base) when it has them, else its recorded <c>call</c>. The tag only names
/// the tensors (<c>{tag}_freqs_cis</c>, <c>{tag}_group_causal_mask</c>; a tag's first word, as in "X mask"), never a
/// parameter.
/// </summary>
public sealed record RopeTableSpec(string TensorTag, RotaryTableArgs? Rotary, GroupMaskArgs? Mask, bool MaskFromDefault)
{
    public const string RotaryFunction = "precompute_freqs_cis_2d_nonsquare";
    public const string MaskFunction = "create_group_causal_mask";

    public static RopeTableSpec Read(JsonElement entry)
    {
        string tag = entry.GetProperty("tag").GetString() ?? throw new InvalidDataException("meta.tables entry without a tag");
        string tensorTag = tag.Split((char[]?)null, 2, StringSplitOptions.RemoveEmptyEntries)[0];
        if (entry.TryGetProperty("block_size", out _)) return FromFields(tensorTag, entry);
        if (entry.TryGetProperty("call", out var call) && call.GetString() is { } text) return FromCall(tensorTag, FixtureCall.Parse(text));
        throw new InvalidDataException($"meta.tables entry '{tag}' has neither block_size/group_size fields nor a call");
    }

    /// <summary>
    /// Fields as the official <c>ModelArgs</c> reads them: the grid is block/group rows by group columns; a missing
    /// causal_num is the default <c>None → group_size</c> (a mask entry with its own call overrides it).
    /// </summary>
    private static RopeTableSpec FromFields(string tensorTag, JsonElement e)
    {
        int block = e.GetProperty("block_size").GetInt32();
        int group = Int(e, "group_size") ?? throw new InvalidDataException($"meta.tables '{tensorTag}': block_size without group_size");
        int? causal = Int(e, "causal_num");
        RotaryTableArgs? rotary = Int(e, "head_dim") is { } headDim
            ? new RotaryTableArgs(block / group, group, headDim, Number(e, "rope_base") ?? 10000, Int(e, "cls_token_num") ?? 1)
            : null;
        return new RopeTableSpec(tensorTag, rotary, new GroupMaskArgs(block, group, causal ?? group), MaskFromDefault: causal is null);
    }

    private static RopeTableSpec FromCall(string tensorTag, FixtureCall call) => call.Function switch
    {
        RotaryFunction => new RopeTableSpec(tensorTag,
            new RotaryTableArgs(call.Int(0, "grid_height"), call.Int(1, "grid_width"), call.Int(2, "n_elem"),
                call.Number(3, "base", 10000), call.Int(4, "cls_token_num")), null, false),
        MaskFunction => new RopeTableSpec(tensorTag, null,
            new GroupMaskArgs(call.Int(0, "seq_len"), call.Int(1, "group_size"), call.Int(2, "causal_num")), false),
        _ => throw new InvalidDataException($"meta.tables '{tensorTag}': unknown call {call.Function}(...)"),
    };

    private static int? Int(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetInt32() : null;

    private static double? Number(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetDouble() : null;
}
