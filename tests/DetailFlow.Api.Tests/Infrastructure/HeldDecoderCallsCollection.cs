namespace DetailFlow.Api.Tests;

/// <summary>
/// Runs alone (no other test class in parallel): its tests hold a decoder call closed and watch the steps meanwhile.
/// Once 16 MiB have been allocated by any thread of the process, the step gate (docs/memory.md) holds the next step until
/// the running decoder call ends — by design, since a real call ends within a second — so other classes' traffic in the
/// same process would stall the steps these tests expect to run.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class HeldDecoderCallsCollection
{
    public const string Name = "held decoder calls";
}
