namespace DetailFlow.Api.Hosting;

/// <summary>
/// Where an activation is shared between replicas: the current active model (read by a replica that starts later) and
/// an announcement every replica applies. Only registered when Redis is configured; a single process needs neither.
/// </summary>
public interface IActiveModelStore
{
    /// <summary>The model last activated on any replica, or null.</summary>
    ModelSource? Current();

    /// <summary>Stores <paramref name="source"/> as the current model and announces it to every other replica.</summary>
    Task PublishAsync(ModelSource source, CancellationToken ct);

    /// <summary>Calls <paramref name="apply"/> for each activation announced by another replica.</summary>
    Task SubscribeAsync(Func<ModelSource, Task> apply, CancellationToken ct);
}
