using Microsoft.Extensions.Configuration;
using Portico.Gateway.Caching;

namespace Microsoft.Extensions.Hosting;

internal static class CachePurgeHostingExtensions
{
    /// <summary>
    /// Consumes the events <c>Portico:Caching:PurgeOn</c> names and purges their tags on every gateway instance. Messaging
    /// is loaded only when there is something to consume and somewhere to consume it from (<c>ConnectionStrings:broker</c>
    /// or <c>ConnectionStrings:store</c>); otherwise nothing is registered. Safe beside other users of
    /// <see cref="MessagingServiceCollectionExtensions.AddPorticoMessaging"/>, which registers the building block once.
    /// Unknown event names and bad tags fail start-up (<see cref="CachingOptionsValidator"/>).
    /// </summary>
    public static IHostApplicationBuilder AddPorticoCachePurgeOnEvents(this IHostApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var configuration = builder.Configuration;
        var section = configuration.GetSection(CachingOptions.SectionName);
        var events = section.GetSection(nameof(CachingOptions.PurgeOn)).GetChildren().Select(e => e.Key).ToList();
        var hasBroker = !string.IsNullOrWhiteSpace(configuration.GetConnectionString(MessagingServiceCollectionExtensions.BrokerConnectionName))
            || !string.IsNullOrWhiteSpace(configuration.GetConnectionString(MessagingServiceCollectionExtensions.StoreConnectionName));
        if (events.Count == 0 || !hasBroker)
        {
            return builder;
        }

        var queue = section[nameof(CachingOptions.PurgeQueue)] ?? new CachingOptions().PurgeQueue;
        var messaging = builder.AddPorticoMessaging();
        foreach (var name in events)
        {
            // Names that are not known are left to the validator, which lists them all at start-up.
            if (CachePurgeEvents.Registrations.TryGetValue(name, out var register))
            {
                register(messaging, queue);
            }
        }
        return builder;
    }
}
