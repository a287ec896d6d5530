namespace DetailFlow.Api.Hosting;

/// <summary>Whether the model is loaded (readiness), set once by the inference thread.</summary>
public sealed class ModelState
{
    private volatile LoadedModel? _model;

    public LoadedModel? Model => _model;
    public bool IsReady => _model is not null;
    public string? LoadError { get; private set; }

    internal void Loaded(LoadedModel model) => _model = model;
    internal void Failed(string error) => LoadError = error;
}
