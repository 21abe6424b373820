namespace Portico.Messaging.Transport;

/// <summary>
/// What one queue holds now, as its broker counts it: <see cref="Waiting"/> to be delivered next, <see cref="InFlight"/>
/// delivered and not settled yet, <see cref="Delayed"/> waiting for a retry, <see cref="DeadLettered"/>, and how many
/// consumers are live. A figure the transport cannot read is null, never guessed (RabbitMQ tells a client no count of
/// unacknowledged deliveries without the management plugin). A queue never declared holds nothing: zeros.
/// </summary>
public sealed record QueueDepth(long Waiting, long? InFlight, long? Delayed, long DeadLettered, int Consumers);
