using System.Text.Json;
using DetailFlow.Api.Caching;
using DetailFlow.Api.Hosting;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace DetailFlow.Api.Admin;

/// <summary>
/// Activations shared through Redis: the current model in <c>&lt;prefix&gt;models:active</c> (read at start by every
/// replica) and an announcement on the pub/sub channel <c>&lt;prefix&gt;models:activate</c> that every other replica
/// applies. The model files must be reachable at the same paths on every replica (a shared data volume).
/// </summary>
public sealed class RedisActiveModelStore(RedisConnection connection, IOptions<CacheOptions> cache, IOptions<AdminOptions> admin,
    ILogger<RedisActiveModelStore> logger) : IActiveModelStore
{
    private sealed record Announcement(string Sender, ModelSource Source);

    private readonly string _sender = admin.Value.InstanceId + ":" + Guid.NewGuid().ToString("N");
    private RedisKey Key => cache.Value.RedisInstanceName + "models:active";
    private RedisChannel Channel => RedisChannel.Literal(cache.Value.RedisInstanceName + "models:activate");

    public ModelSource? Current()
    {
        try
        {
            var value = connection.Multiplexer.GetDatabase().StringGet(Key);
            return value.IsNullOrEmpty ? null : JsonSerializer.Deserialize<ModelSource>(value.ToString(), AdminJson.Options);
        }
        catch (Exception e) when (e is RedisException or JsonException)
        {
            logger.LogWarning("Cannot read the shared active model from Redis: {Message}", e.Message);
            return null;
        }
    }

    public async Task PublishAsync(ModelSource source, CancellationToken ct)
    {
        var db = connection.Multiplexer.GetDatabase();
        await db.StringSetAsync(Key, JsonSerializer.Serialize(source, AdminJson.Options));
        await connection.Multiplexer.GetSubscriber().PublishAsync(Channel, JsonSerializer.Serialize(new Announcement(_sender, source), AdminJson.Options));
    }

    /// <summary>
    /// Runs inside the stop token's <c>Cancel</c>: an exception here would make the host's stop fail. A connection that is
    /// already closed has no subscription left to end.
    /// </summary>
    private void Unsubscribe(ChannelMessageQueue queue)
    {
        try { queue.Unsubscribe(CommandFlags.FireAndForget); }
        catch (Exception e) when (e is ObjectDisposedException or RedisException)
        {
            logger.LogDebug("Unsubscribing from model activations skipped: {Message}", e.Message);
        }
    }

    public async Task SubscribeAsync(Func<ModelSource, Task> apply, CancellationToken ct)
    {
        var queue = await connection.Multiplexer.GetSubscriber().SubscribeAsync(Channel);
        ct.Register(() => Unsubscribe(queue));
        queue.OnMessage(async message =>
        {
            try
            {
                var a = JsonSerializer.Deserialize<Announcement>(message.Message.ToString(), AdminJson.Options);
                if (a is not null && a.Sender != _sender) await apply(a.Source);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                logger.LogError("Applying an announced activation failed: {Message}", e.Message);
            }
        });
    }
}
