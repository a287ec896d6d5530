using DetailFlow.Api.Batching;

namespace DetailFlow.Api.Tests;

/// <summary>
/// An <see cref="IStepGate"/> for tests: while closed, the inference thread waits before its next engine step, so jobs
/// stay unfinished (and hold their places in the queue) until the test opens it. Register it with
/// <c>services.AddSingleton&lt;IStepGate&gt;(gate)</c>.
/// </summary>
public sealed class StepGate : IStepGate
{
    private readonly ManualResetEventSlim _open = new(true);

    public void Close() => _open.Reset();
    public void Open() => _open.Set();

    /// <summary>Waits while closed; a test that never opens it lets the steps go on after a minute rather than hang the run.</summary>
    public void BeforeStep() => _open.Wait(TimeSpan.FromSeconds(60));
}
