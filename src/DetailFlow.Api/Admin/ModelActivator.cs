using DetailFlow.Api.Batching;
using DetailFlow.Api.Hosting;

namespace DetailFlow.Api.Admin;

/// <summary>
/// Swaps a model into serving: loads and warms it up off the inference thread, then makes it the active model (new
/// requests rent it; requests holding the old one finish on it, and the batcher disposes it after its last row). With
/// Redis, an activation is stored and announced so every replica applies it, and this replica applies theirs.
/// </summary>
public sealed class ModelActivator(ModelLoader loader, ModelState state, Batcher batcher, ILogger<ModelActivator> logger, IActiveModelStore? shared = null)
    : IHostedService
{
    private readonly SemaphoreSlim _one = new(1, 1);
    private readonly CancellationTokenSource _stop = new();

    public async Task<LoadedModel> ActivateAsync(ModelSource source, bool announce, CancellationToken ct)
    {
        await _one.WaitAsync(ct);
        try
        {
            if (state.Model is { } current && Same(current.Source, source)) return current;
            var model = await Task.Factory.StartNew(() => LoadWithEngine(source), ct, TaskCreationOptions.LongRunning, TaskScheduler.Default);
            var old = state.Model;
            state.Activate(model);
            logger.LogInformation("Activated model {Name} ({Fingerprint}) in place of {Old}", model.Name, model.Fingerprint, old?.Fingerprint ?? "none");
            if (announce && shared is not null) await shared.PublishAsync(source, CancellationToken.None);
            return model;
        }
        finally
        {
            _one.Release();
        }
    }

    /// <summary>The model and its engine (KV cache), both built before it serves its first request.</summary>
    private LoadedModel LoadWithEngine(ModelSource source)
    {
        var model = loader.Load(source);
        try { batcher.Prebuild(model); }
        catch { model.Dispose(); throw; }
        return model;
    }

    /// <summary>Subscribes to other replicas' activations in the background (retrying while Redis is unreachable).</summary>
    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (shared is null) return Task.CompletedTask;
        _ = Task.Run(async () =>
        {
            for (int attempt = 0; !_stop.IsCancellationRequested; attempt++)
            {
                try
                {
                    await shared.SubscribeAsync(source => ActivateAsync(source, announce: false, _stop.Token), _stop.Token);
                    await CatchUpAsync();
                    return;
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    if (attempt == 0) logger.LogWarning("Cannot subscribe to model activations yet (retrying): {Message}", e.Message);
                    try { await Task.Delay(TimeSpan.FromSeconds(1), _stop.Token); } catch (OperationCanceledException) { return; }
                }
            }
        }, CancellationToken.None);
        return Task.CompletedTask;
    }

    /// <summary>
    /// An activation announced between this replica's start-up read of the shared store and its subscription would be
    /// missed: once subscribed (and the start-up model is loaded), apply the stored one if it is not what is served.
    /// </summary>
    private async Task CatchUpAsync()
    {
        while (!state.IsReady && state.LoadError is null) await Task.Delay(100, _stop.Token);
        if (shared?.Current() is { } stored && state.Model is { } served && !Same(served.Source, stored))
        {
            logger.LogInformation("Applying the shared active model {Gpt} announced before this replica subscribed", stored.GptPath);
            try { await ActivateAsync(stored, announce: false, _stop.Token); }
            catch (Exception e) when (e is not OperationCanceledException and not OutOfMemoryException)
            {
                logger.LogError("The shared active model ({Gpt}) did not load, still serving {Served}: {Message}", stored.GptPath, state.Model?.Name, e.Message);
            }
        }
    }

    /// <summary>The same weights (labels are a list: records compare it by reference).</summary>
    private static bool Same(ModelSource? a, ModelSource b) => a is not null && a.GptPath == b.GptPath &&
        a.TokenizerPath == b.TokenizerPath && a.GptEntry == b.GptEntry && a.JobId == b.JobId;

    public Task StopAsync(CancellationToken cancellationToken)
    {
        _stop.Cancel();
        return Task.CompletedTask;
    }
}
