using DetailFlow.Core.Gpt;

namespace DetailFlow.Core.Generation;

/// <summary>
/// The host-side plan of one engine step (spec §7.4). Cache row r belongs to one request (its conditional row or its
/// null-class row) and feeds the extended positions [FedEnd, ExtendedLength(t)) of that request — the class token,
/// one code, the first group (z_{C−1} + the special tokens), the previous group, or a whole continuation prefix. Rows
/// are padded to the longest block; padding is written to the trash slot and masked. The logits needed are those at
/// positions [t, ExtendedLength(t)) of each row. When the blocks differ in length (a newcomer's class token or causal
/// code beside G-wide group blocks) the step can run <see cref="Packed"/>: the forward runs on the real positions only
/// (<see cref="PackIndex"/>), so a newcomer's 1-position steps add one position per row to the step's work, not G.
/// </summary>
internal sealed class StepBatch
{
    private StepBatch(int rows, int length)
    {
        Rows = rows;
        Length = length;
        Positions = new long[rows * length];
        Codes = new long[rows * length];
        WriteIndex = new long[rows * length];
        Valid = new bool[rows * length];
        Classes = new long[rows];
        OutputStart = new int[rows];
    }

    public int Rows { get; }

    /// <summary>L: the longest fed block.</summary>
    public int Length { get; }

    /// <summary>W: keys attended (the longest extended length after this step).</summary>
    public int Width { get; private set; }

    /// <summary>[R, L] absolute positions (0 for padding: a harmless rotary row and embedding).</summary>
    public long[] Positions { get; }

    /// <summary>[R, L] code fed at each position (0 where the class or a special token is fed, or padding).</summary>
    public long[] Codes { get; }

    /// <summary>[R, L] cache slot written: the position, or the trash slot for padding.</summary>
    public long[] WriteIndex { get; }

    public bool[] Valid { get; }

    public long[] Classes { get; }

    /// <summary>Whether some positions of the [R, L] grid are padding: the forward then runs packed.</summary>
    public bool Packed { get; private set; }

    /// <summary>Flat indices into [R·L] of the real (non-padding) positions, row after row.</summary>
    public long[] PackIndex { get; private set; } = [];

    /// <summary>
    /// Indices of the positions whose logits are used, row after row: into the T packed positions when
    /// <see cref="Packed"/>, else flat into [R·L].
    /// </summary>
    public long[] OutputIndex { get; private set; } = [];

    /// <summary>Index into <see cref="OutputIndex"/> where row r's logits start.</summary>
    public int[] OutputStart { get; }

    /// <summary>
    /// Padding positions from which a mixed step runs packed: the first count whose skipped projections save more than
    /// <paramref name="minSavingFlops"/> per layer.
    /// </summary>
    public static int PackFrom(GptConfig config, double minSavingFlops) =>
        (int)Math.Clamp(Math.Ceiling(minSavingFlops / LinearFlopsPerPosition(config)), 1, int.MaxValue);

    /// <summary>2 · (wqkv + wo + w1 + w3 + w2) weights: the FLOPs of one position through one block's projections.</summary>
    private static double LinearFlopsPerPosition(GptConfig c) => 2.0 * (4.0 * c.Dim * c.Dim + 3.0 * c.Dim * c.FfnHidden);

    /// <summary>Positions a step feeds for <paramref name="slots"/>: each row's block, without padding.</summary>
    public static int FedPositions(IEnumerable<(GenerationRow Row, bool IsNull)> slots, SequenceLayout layout) =>
        slots.Sum(s => Fed(s.Row, layout));

    /// <summary>The block a row of <paramref name="row"/> feeds next: extended positions [FedEnd, ExtendedLength(t)).</summary>
    private static int Fed(GenerationRow row, SequenceLayout layout) => layout.ExtendedLength(row.Codes.Count) - row.FedEnd;

    /// <param name="packFrom">A step runs packed when its grid has at least this many padding positions (1: whenever the
    /// blocks differ in length; <see cref="int.MaxValue"/>: never).</param>
    public static StepBatch Plan(IReadOnlyList<(GenerationRow Row, bool IsNull)> slots, SequenceLayout layout, long nullClass, int trashSlot,
        int packFrom = 1)
    {
        int rows = slots.Count;
        int length = slots.Max(s => Fed(s.Row, layout));
        var outputs = new List<long>();
        var packed = new List<long>();
        var batch = new StepBatch(rows, length)
        {
            Width = slots.Max(s => layout.ExtendedLength(s.Row.Codes.Count)),
            Packed = rows * length - FedPositions(slots, layout) >= Math.Max(packFrom, 1),
        };
        for (int r = 0; r < rows; r++)
        {
            var (row, isNull) = slots[r];
            int t = row.Codes.Count, start = row.FedEnd, end = layout.ExtendedLength(t);
            batch.Classes[r] = isNull ? nullClass : row.Request.ClassLabel;
            for (int i = 0; i < length; i++)
            {
                int flat = r * length + i, p = start + i;
                bool valid = p < end;
                batch.Valid[flat] = valid;
                if (valid) packed.Add(flat);
                batch.Positions[flat] = valid ? p : 0;
                batch.WriteIndex[flat] = valid ? p : trashSlot;
                int code = valid ? layout.CodeAt(p) : -1;
                batch.Codes[flat] = code >= 0 ? row.Codes[code] : 0;
            }
            batch.OutputStart[r] = outputs.Count;
            long rowStart = batch.Packed ? packed.Count - (end - start) : r * length;
            for (int p = t; p < end; p++) outputs.Add(rowStart + (p - start));
        }
        batch.OutputIndex = [.. outputs];
        batch.PackIndex = [.. packed];
        return batch;
    }
}
