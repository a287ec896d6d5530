namespace DetailFlow.Cli;

/// <summary>Process exit codes of the <c>detailflow</c> tool.</summary>
public static class ExitCodes
{
    public const int Success = 0;
    /// <summary>The command ran and found a failure (parity mismatch, failed check).</summary>
    public const int CheckFailed = 1;
    /// <summary>Bad input: missing file, invalid option value, unreadable checkpoint.</summary>
    public const int InvalidInput = 2;
    public const int Cancelled = 130;
}
