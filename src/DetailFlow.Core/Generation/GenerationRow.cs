namespace DetailFlow.Core.Generation;

/// <summary>
/// A request admitted to a <see cref="NextDetailEngine"/>: its id, its codes so far and how much of its extended
/// sequence is in the KV cache. <see cref="Completion"/> yields the codes (length = the request's detail), is cancelled
/// when the request's token fires, or faults when a step fails.
/// </summary>
public sealed class GenerationRow
{
    private readonly TaskCompletionSource<long[]> _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);

    internal GenerationRow(long id, GenerationRequest request, int target)
    {
        Id = id;
        Request = request;
        Target = target;
        Codes = [.. request.Prefix ?? []];
    }

    public long Id { get; }
    public GenerationRequest Request { get; }

    /// <summary>The prefix length generation stops at.</summary>
    public int Target { get; }

    public Task<long[]> Completion => _completion.Task;

    internal List<long> Codes { get; }

    /// <summary>Extended positions 0..FedEnd−1 of this request are in the cache.</summary>
    internal int FedEnd { get; set; }

    internal bool IsDone => Codes.Count >= Target;

    internal void Complete() => _completion.TrySetResult([.. Codes]);

    internal void Cancel() => _completion.TrySetCanceled(Request.CancellationToken);

    internal void Fail(Exception error) => _completion.TrySetException(error);
}
