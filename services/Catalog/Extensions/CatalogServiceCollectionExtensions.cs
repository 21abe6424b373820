using Portico.Data;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Portico.Catalog.Apis;
using Portico.Catalog.Infrastructure;
using Portico.Catalog.Stock;
using Portico.Contracts.Events;
using Portico.ServiceDefaults.RequestBodies;

namespace Microsoft.Extensions.Hosting;

public static class CatalogServiceCollectionExtensions
{
    /// <summary>Name of the connection string (<c>ConnectionStrings:catalogdb</c>).</summary>
    public const string ConnectionStringName = CatalogDatabase.ConnectionStringName;

    /// <summary>
    /// Registers the catalog: its database (SQLite or PostgreSQL from <c>ConnectionStrings:catalogdb</c>) with a readiness
    /// check, start-up creation and seeding; the stock saga's handlers (<c>OrderPlaced.v1</c> takes stock,
    /// <c>OrderCancelled.v1</c> puts it back) on the <c>Messaging:Queue</c> queue, and the outbox relay that publishes
    /// <c>StockRejected.v1</c> and <c>ProductChanged.v1</c>; bearer-token authentication with the
    /// <see cref="CatalogPolicies.Admin"/> policy for writes; and problem+json error responses.
    /// </summary>
    public static TBuilder AddCatalogServices<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        var services = builder.Services;
        services.AddProblemDetails();
        // Product bodies: bound strictly and checked by .NET's validation (ProductRequest's attributes), faults named in
        // problem+json. A request the server rejects while it is read (too large, cut short) is a 4xx, not a 500.
        services.AddValidation();
        services.AddJsonRequestBodies();
        services.TryAddSingleton(TimeProvider.System);
        services.AddOptions<ProductCachingOptions>().BindConfiguration(ProductCachingOptions.SectionName).ValidateDataAnnotations().ValidateOnStart();
        services.AddSingleton<ProductCaching>();

        builder.AddServiceDatabase<CatalogDbContext>(CatalogDatabase.ConnectionStringName, CatalogDatabase.DefaultConnectionString);
        services.AddHealthChecks().AddDbContextCheck<CatalogDbContext>(CatalogDatabase.ConnectionStringName);
        // Two instances share one SQLite file in the one-command run: a stock update waits 2 s for the other's write
        // lock, not SQLite's 30 s (which also held shutdown past the orchestrator's stop timeout), then 503 + Retry-After.
        services.AddDatabaseFaultHandling<CatalogDbContext>("Catalog:Database");
        // After the schema's initializer (hosted services start in order): seeds a fresh catalog.
        services.AddHostedService<CatalogDbInitializer>();

        // Catalog consumes, so it needs a broker (ConnectionStrings:broker, or the store's) and refuses to start without one.
        builder.AddPorticoMessaging()
            .AddOutboxRelay<CatalogDbContext>()
            .AddEventHandler<OrderPlaced, OrderPlacedIntegrationEventHandler>(EventsJsonContext.Default.OrderPlaced)
            .AddEventHandler<OrderCancelled, OrderCancelledIntegrationEventHandler>(EventsJsonContext.Default.OrderCancelled);

        builder.AddJwtAuthentication();
        services.AddAuthorizationBuilder()
            .AddPolicy(CatalogPolicies.Admin, policy => policy.RequireAuthenticatedUser().RequireRole(CatalogPolicies.AdminRole));
        return builder;
    }
}
