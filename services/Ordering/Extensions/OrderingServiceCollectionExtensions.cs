using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Http.Resilience;
using Microsoft.Extensions.Options;
using Portico.Data;
using Portico.Contracts.Events;
using Portico.Messaging.Outbox;
using Portico.Ordering;
using Portico.Ordering.Apis;
using Portico.Ordering.Catalog;
using Portico.Ordering.Infrastructure;
using Portico.Ordering.Orders;
using Portico.ServiceDefaults.RequestBodies;

namespace Microsoft.Extensions.Hosting;

public static class OrderingServiceCollectionExtensions
{
    /// <summary>Where the resilience of calls to Catalog is configured (<c>HttpStandardResilienceOptions</c>).</summary>
    public const string CatalogResilienceSection = "Ordering:CatalogResilience";

    /// <summary>
    /// Registers the Ordering service: <see cref="OrderingOptions"/> validated at start-up, its database (SQLite or
    /// PostgreSQL from <c>ConnectionStrings:orderingdb</c>) with a readiness check and start-up creation, the typed
    /// Catalog client, order placement, bearer-token authentication against Identity's key set with the
    /// <see cref="OrderingPolicies.Customer"/> policy, <see cref="TimeProvider.System"/> (unless one is registered)
    /// and problem+json error responses.
    /// </summary>
    public static TBuilder AddOrderingServices<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        var services = builder.Services;
        services.AddProblemDetails();
        // Order bodies: bound strictly and checked by .NET's validation (OrderRequest's attributes), faults named in
        // problem+json. A request the server rejects while it is read (too large, cut short) is a 4xx, not a 500.
        services.AddValidation();
        services.AddJsonRequestBodies();
        services.TryAddSingleton(TimeProvider.System);

        services.AddOptions<OrderingOptions>().BindConfiguration(OrderingOptions.SectionName).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<OrderingOptions>, OrderingOptionsValidator>());

        builder.AddServiceDatabase<OrderingDbContext>(OrderingDatabase.ConnectionStringName, OrderingDatabase.DefaultConnectionString);
        services.AddHealthChecks().AddDbContextCheck<OrderingDbContext>(OrderingDatabase.ConnectionStringName);
        // A busy (SQLite) or unreachable database answers 503 with Retry-After, after a short busy timeout.
        services.AddDatabaseFaultHandling<OrderingDbContext>(OrderingDatabase.FaultsSection);

        // The handler every client gets from ServiceDefaults is shared by all clients' settings; this client gets its own
        // standard handler instead, configured by the name "catalog-standard": short defaults, since a user waits on
        // these calls, then whatever Ordering:CatalogResilience says.
        // RemoveAllResilienceHandlers is marked experimental (EXTEXP0001); it is the documented way to replace a
        // handler added by ConfigureHttpClientDefaults for one client.
#pragma warning disable EXTEXP0001
        services.AddHttpClient<CatalogClient>(CatalogClient.HttpClientName, (sp, http) =>
                http.BaseAddress = new Uri(sp.GetRequiredService<IOptions<OrderingOptions>>().Value.CatalogUrl))
            .RemoveAllResilienceHandlers()
            .AddStandardResilienceHandler();
#pragma warning restore EXTEXP0001
        services.AddOptions<HttpStandardResilienceOptions>($"{CatalogClient.HttpClientName}-standard")
            .Configure(o =>
            {
                o.Retry.MaxRetryAttempts = 2;
                o.Retry.Delay = TimeSpan.FromMilliseconds(200);
                o.AttemptTimeout.Timeout = TimeSpan.FromSeconds(3);
                o.TotalRequestTimeout.Timeout = TimeSpan.FromSeconds(10);
                o.CircuitBreaker.SamplingDuration = TimeSpan.FromSeconds(10);
            })
            .BindConfiguration(CatalogResilienceSection);
        services.AddScoped<OrderPlacement>();
        services.TryAddSingleton<OutboxSignal>();

        // The outbox relay publishes OrderPlaced.v1 and OrderCancelled.v1 to the broker (ConnectionStrings:broker, or the
        // store's); orders are taken while it is down. StockRejected.v1 from Catalog cancels an order (out-of-stock) on
        // the Messaging:Queue queue: a consumer, so Ordering refuses to start without a broker.
        builder.AddPorticoMessaging()
            .AddOutboxRelay<OrderingDbContext>()
            .AddEventHandler<StockRejected, StockRejectedIntegrationEventHandler>(EventsJsonContext.Default.StockRejected);

        builder.AddJwtAuthentication();
        services.AddAuthorizationBuilder()
            .AddPolicy(OrderingPolicies.Customer, policy => policy.RequireAuthenticatedUser().RequireClaim("sub"))
            .AddPolicy(OrderingPolicies.Service, policy => policy.RequireAuthenticatedUser().RequireRole(OrderingPolicies.ServiceRole));
        return builder;
    }
}
