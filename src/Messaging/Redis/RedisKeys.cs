using StackExchange.Redis;

namespace Portico.Messaging.Redis;

/// <summary>The keys of one queue. Ready messages are pushed on the left and taken from the right (FIFO).</summary>
internal sealed class RedisKeys(string prefix, string queue)
{
    public RedisKey Ready { get; } = $"{prefix}:q:{queue}";

    /// <summary>Retries waiting for their time, scored by due time in Unix milliseconds.</summary>
    public RedisKey Delayed { get; } = $"{prefix}:q:{queue}:delayed";

    public RedisKey DeadLetters { get; } = $"{prefix}:q:{queue}:dead";

    /// <summary>Dead letters being replayed: each is here only between its <c>LMOVE</c> out of the dead letters and its transaction back to the queue.</summary>
    public RedisKey Replaying { get; } = $"{prefix}:q:{queue}:replaying";

    /// <summary>The ids of the consumers of this queue, live or not yet reaped.</summary>
    public RedisKey Consumers { get; } = $"{prefix}:q:{queue}:consumers";

    public RedisChannel ReadyChannel { get; } = RedisChannel.Literal($"{prefix}:q:{queue}:ready");

    public RedisKey Processing(string consumerId) => $"{prefix}:q:{queue}:processing:{consumerId}";

    /// <summary>Exists while the consumer's heartbeat is fresh; expires after the visibility timeout.</summary>
    public RedisKey Alive(string consumerId) => $"{prefix}:q:{queue}:alive:{consumerId}";

    public static RedisKey Topic(string prefix, string topic) => $"{prefix}:topic:{topic}";
}
