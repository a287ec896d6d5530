using DetailFlow.Core.Gpt;

namespace DetailFlow.Core.Generation;

/// <summary>
/// The host-side plan of one engine step (spec §7.4). Cache row r belongs to one request (its conditional row or its
/// null-class row) and feeds the extended positions [FedEnd, ExtendedLength(t)) of that request — the class token,
/// one code, the first group (z_{C−1} + the special tokens), the previous group, or a whole continuation prefix. Rows
/// are padded to the longest block; padding is written to the trash slot and masked. The logits needed are those at
/// positions [t, ExtendedLength(t)) of each row.
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

    /// <summary>Flat indices into [R·L] of the positions whose logits are used, row after row.</summary>
    public long[] OutputIndex { get; private set; } = [];

    /// <summary>Index into <see cref="OutputIndex"/> where row r's logits start.</summary>
    public int[] OutputStart { get; }

    public static StepBatch Plan(IReadOnlyList<(GenerationRow Row, bool IsNull)> slots, SequenceLayout layout, long nullClass, int trashSlot)
    {
        int rows = slots.Count;
        int length = slots.Max(s => layout.ExtendedLength(s.Row.Codes.Count) - s.Row.FedEnd);
        var outputs = new List<long>();
        var batch = new StepBatch(rows, length) { Width = slots.Max(s => layout.ExtendedLength(s.Row.Codes.Count)) };
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
                batch.Positions[flat] = valid ? p : 0;
                batch.WriteIndex[flat] = valid ? p : trashSlot;
                int code = valid ? layout.CodeAt(p) : -1;
                batch.Codes[flat] = code >= 0 ? row.Codes[code] : 0;
            }
            batch.OutputStart[r] = outputs.Count;
            for (int p = t; p < end; p++) outputs.Add(r * length + (p - start));
        }
        batch.OutputIndex = [.. outputs];
        return batch;
    }
}
