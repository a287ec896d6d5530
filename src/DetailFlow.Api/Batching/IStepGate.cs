namespace DetailFlow.Api.Batching;

/// <summary>
/// A test seam: the inference thread calls it before every engine step, so a test can hold the rows (and keep jobs
/// unfinished) without depending on how fast anything else runs. Only tests register one; the service has none.
/// </summary>
public interface IStepGate
{
    void BeforeStep();
}
