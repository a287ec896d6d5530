namespace DetailFlow.Api.Hosting;

/// <summary>
/// The model registry: the active model (readiness), leases that keep a model alive while a request uses it, and the
/// models an activation replaced, which the inference thread disposes once their last lease and row are gone. A request
/// rents the active model once (<see cref="Rent"/>) and keeps it to the end, so a swap never changes a request's model.
/// </summary>
public sealed class ModelState
{
    private readonly Lock _lock = new();
    private readonly List<LoadedModel> _retired = [];
    private volatile LoadedModel? _model;

    public LoadedModel? Model => _model;
    public bool IsReady => _model is not null;
    public string? LoadError { get; private set; }

    /// <summary>Raised (on the activating thread) after a swap, with the model it replaced.</summary>
    public event Action<LoadedModel>? Swapped;

    internal void Loaded(LoadedModel model) => Activate(model);
    internal void Failed(string error) => LoadError = error;

    /// <summary>
    /// Rents the active model for the rest of the request: the lease ends when the response completes (after any
    /// stream). Null while no model is loaded.
    /// </summary>
    public LoadedModel? Rent(HttpContext http)
    {
        var model = Rent();
        if (model is not null) http.Response.RegisterForDispose(new Lease(model));
        return model;
    }

    /// <summary>Rents the active model; the caller must call <see cref="LoadedModel.Return"/> exactly once.</summary>
    public LoadedModel? Rent()
    {
        lock (_lock)
        {
            var model = _model;
            model?.Acquire();
            return model;
        }
    }

    /// <summary>Makes <paramref name="model"/> the active model; the previous one is retired (disposed when unused).</summary>
    public void Activate(LoadedModel model)
    {
        LoadedModel? old;
        lock (_lock)
        {
            old = _model;
            if (ReferenceEquals(old, model)) return;
            _model = model;
            if (old is not null) _retired.Add(old);
        }
        if (old is not null) Swapped?.Invoke(old);
    }

    /// <summary>Retired models no lease holds any more (the inference thread disposes them once no row uses them).</summary>
    internal IReadOnlyList<LoadedModel> Unrented()
    {
        lock (_lock) return _retired.Where(m => m.Leases == 0).ToArray();
    }

    internal int RetiredCount { get { lock (_lock) return _retired.Count; } }

    /// <summary>Removes a retired model that has no lease (under the lock, so no request can rent it meanwhile).</summary>
    internal bool TryForget(LoadedModel model)
    {
        lock (_lock) return model.Leases == 0 && _retired.Remove(model);
    }

    private sealed class Lease(LoadedModel model) : IDisposable
    {
        private int _done;
        public void Dispose() { if (Interlocked.Exchange(ref _done, 1) == 0) model.Return(); }
    }
}
