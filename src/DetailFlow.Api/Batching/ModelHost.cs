using System.Collections.Concurrent;
using DetailFlow.Api.Hosting;
using DetailFlow.Core.Generation;

namespace DetailFlow.Api.Batching;

/// <summary>
/// The models on the inference thread: loads the first one, keeps one <see cref="NextDetailEngine"/> per model, and
/// disposes a replaced model (engine and weights) once no request rents it, no row uses it and the decode thread holds
/// none of its prefixes. Everything here runs on the inference thread (the GPT and its engine belong to it), except
/// <see cref="Prebuild"/> (a swapped-in model's engine, built by the thread that loaded it, before any step can use it),
/// <see cref="CacheBytes"/> (read by the metrics) and <see cref="DisposeModels"/>, which runs after that thread has ended.
/// </summary>
internal sealed class ModelHost(ModelLoader loader, ModelState state, DecodeWorker decoder, BatcherOptions options, ILogger logger)
{
    // Concurrent only for Prebuild (a loading thread) and CacheBytes (the metrics); the inference thread does the rest.
    private readonly ConcurrentDictionary<LoadedModel, NextDetailEngine> _engines = new(ReferenceEqualityComparer.Instance);

    /// <summary>
    /// Loads the configured model, builds its engine, then activates it; false (the error recorded for readiness) when it
    /// cannot. The engine's KV cache is allocated and zero-filled here, before the service reports ready, not by the
    /// first request (GPT-L at 32 rows: 406 MB, ~0.6 s; docs/memory.md, "Trimmed at ready").
    /// </summary>
    public bool TryLoad()
    {
        try
        {
            var model = loader.LoadInitial();
            try { EngineFor(model); }
            catch { model.Dispose(); throw; }
            state.Loaded(model);
            return true;
        }
        catch (Exception e)
        {
            logger.LogCritical("Model loading failed: {Message}", e.Message);
            state.Failed(e.Message);
            return false;
        }
    }

    /// <summary>A replaced model waits to be disposed (the loop polls for it).</summary>
    public bool HasRetired => state.RetiredCount > 0;

    public NextDetailEngine EngineFor(LoadedModel model) => _engines.GetOrAdd(model, m => new NextDetailEngine(m.Gpt, options.MaxRows)
    {
        EagerCostRatio = options.EagerCostRatio,
    });

    /// <summary>
    /// Builds the engine of a model about to be activated, on the calling thread (the one that loaded it), so that the
    /// first request after a swap does not pay for its KV cache either; <see cref="EngineFor"/> finds it. Only an
    /// engine's construction happens off the inference thread, never a step.
    /// </summary>
    public void Prebuild(LoadedModel model) => EngineFor(model);

    /// <summary>Engines with rows generating or waiting to join.</summary>
    public List<NextDetailEngine> Busy() => _engines.Select(e => e.Value).Where(IsBusy).ToList();

    /// <summary>Whether any engine has rows generating or waiting to join (no list built: asked after every step).</summary>
    public bool AnyBusy => _engines.Any(e => IsBusy(e.Value));

    /// <summary>Bytes of the engines' KV caches, all models (read from any thread).</summary>
    public long CacheBytes => _engines.Sum(e => e.Value.CacheBytes);

    /// <summary>KV-cache rows held by live generations, all models.</summary>
    public int RowsInUse => _engines.Sum(e => e.Value.RowsInUse);

    private static bool IsBusy(NextDetailEngine e) => e.ActiveRequests > 0 || e.PendingRequests > 0;

    /// <summary>Disposes the engine and weights of every replaced model that no request and no row uses any more.</summary>
    public void DisposeRetired()
    {
        foreach (var old in state.Unrented())
        {
            if (_engines.TryGetValue(old, out var engine) && IsBusy(engine)) continue;
            if (decoder.Holds(old) || !state.TryForget(old)) continue;
            if (_engines.TryRemove(old, out engine)) engine.Dispose();   // a prebuilt engine too, if replaced before its first step
            old.Dispose();
            logger.LogInformation("Model {Name} ({Fingerprint}) retired and disposed", old.Name, old.Fingerprint);
        }
    }

    /// <summary>At the end of the inference thread: its engines go with it.</summary>
    public void DisposeEngines()
    {
        foreach (var (_, engine) in _engines) engine.Dispose();
        _engines.Clear();
    }

    /// <summary>After the threads have ended: the active model and every replaced one no request holds.</summary>
    public void DisposeModels()
    {
        state.Model?.Dispose();
        foreach (var old in state.Unrented()) if (state.TryForget(old)) old.Dispose();
    }
}
