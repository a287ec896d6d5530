namespace DetailFlow.Core.Generation;

/// <summary>
/// What a request's progress callback sees after each engine step: its codes so far (a copy), the prefix length, and
/// whether that length is on the resolution schedule (1..C or a multiple of G up to N: spec §5), i.e. decodable as a
/// preview. <paramref name="IsComplete"/> is true on the last callback.
/// </summary>
public sealed record GroupProgress(long RowId, long[] Codes, int PrefixLength, bool OnSchedule, bool IsComplete);
