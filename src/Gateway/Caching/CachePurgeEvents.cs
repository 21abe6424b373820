using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Portico.Messaging;

namespace Portico.Gateway.Caching;

/// <summary>
/// The events <c>Portico:Caching:PurgeOn</c> may name. The gateway reads only the wire (it shares the event's name and
/// JSON with the service that publishes it, not its type), and only to purge: a new event is one record here and one
/// line in <see cref="Registrations"/>.
/// </summary>
internal static class CachePurgeEvents
{
    /// <summary>Adds the purge handler of each known event to a messaging builder, on the given queue.</summary>
    public static readonly IReadOnlyDictionary<string, Action<MessagingBuilder, string>> Registrations = new Dictionary<string, Action<MessagingBuilder, string>>(StringComparer.Ordinal)
    {
        [ProductChangedEvent.MessageType] = static (messaging, queue) =>
            messaging.AddEventHandler<ProductChangedEvent, CachePurgeHandler<ProductChangedEvent>>(CachePurgeJsonContext.Default.ProductChangedEvent, queue),
    };

    /// <summary><c>ProductChanged.v1</c> from Catalog: a product was created or changed.</summary>
    internal sealed record ProductChangedEvent(int ProductId) : IIntegrationMessage
    {
        public static string MessageType => "ProductChanged.v1";
    }
}

/// <summary>
/// Purges the tags <c>Portico:Caching:PurgeOn</c> names for <typeparamref name="TEvent"/>: in this instance's memory, in
/// the shared store, and over the store's pub/sub in every other instance's memory. The instances share one queue, so
/// one of them handles each event. A store that fails throws, so the event is retried rather than acknowledged while
/// other instances keep stale entries.
/// </summary>
internal sealed class CachePurgeHandler<TEvent>(CacheTiers tiers, IOptions<CachingOptions> options, ILogger<CacheTiers> logger) : IMessageHandler<TEvent>
    where TEvent : IIntegrationMessage
{
    public async Task HandleAsync(TEvent message, MessageContext context, CancellationToken cancellationToken)
    {
        if (!options.Value.PurgeOn.TryGetValue(TEvent.MessageType, out var tags))
        {
            return; // the settings changed since start-up; nothing to purge for it any more
        }
        foreach (var tag in tags)
        {
            var removed = await tiers.PurgeAsync(routeId: null, tag, throwOnStoreFailure: true);
            CachePurgeLog.Purged(logger, tag, TEvent.MessageType, context.Envelope.MessageId, removed);
        }
    }
}

internal static partial class CachePurgeLog
{
    [LoggerMessage(310, LogLevel.Information, "Cache: purged tag {Tag} on {MessageType} {MessageId} ({Removed} entries here)")]
    public static partial void Purged(ILogger logger, string tag, string messageType, Guid messageId, int removed);
}

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(CachePurgeEvents.ProductChangedEvent))]
internal sealed partial class CachePurgeJsonContext : JsonSerializerContext;
