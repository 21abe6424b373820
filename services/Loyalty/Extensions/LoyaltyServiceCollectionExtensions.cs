using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Portico.Contracts.Events;
using Portico.Data;
using Portico.Loyalty.Apis;
using Portico.Loyalty.Infrastructure;
using Portico.Loyalty.Ledger;
using Portico.Loyalty.Reconciliation;

namespace Microsoft.Extensions.Hosting;

public static class LoyaltyServiceCollectionExtensions
{
    /// <summary>Largest gRPC message accepted; every Loyalty request is a few short fields.</summary>
    public const int MaxReceiveMessageSize = 64 * 1024;

    /// <summary>
    /// Registers the Loyalty service: its database (SQLite or PostgreSQL from <c>ConnectionStrings:loyaltydb</c>)
    /// with a readiness check and start-up creation, the points ledger, gRPC with server reflection and the
    /// gRPC health service, bearer-token authentication against Identity's key set with the
    /// <see cref="LoyaltyPolicies.Service"/> and <see cref="LoyaltyPolicies.Admin"/> policies, the <c>OrderCancelled</c>
    /// consumer, the reconciler, and <see cref="TimeProvider.System"/> unless one is registered.
    /// </summary>
    public static TBuilder AddLoyaltyServices<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        var services = builder.Services;
        services.AddProblemDetails();
        services.TryAddSingleton(TimeProvider.System);

        builder.AddServiceDatabase<LoyaltyDbContext>(LoyaltyDatabase.ConnectionStringName, LoyaltyDatabase.DefaultConnectionString);
        // A busy (SQLite) or unreachable database fails fast: 503 with Retry-After over HTTP, UNAVAILABLE over gRPC.
        services.AddDatabaseFaultHandling<LoyaltyDbContext>(LoyaltyDatabase.FaultsSection);
        services.AddSingleton<SqliteWriteGate>();
        services.AddScoped<PointsLedger>();

        // OrderCancelled.v1 reverts the order's points (ConnectionStrings:broker, or the store's Redis protocol).
        builder.AddPorticoMessaging().AddEventHandler<OrderCancelled, OrderCancelledHandler>(EventsJsonContext.Default.OrderCancelled);

        // The reconciler reads Ordering's orders as a service client and repairs what disagrees with the ledger.
        services.AddOptions<ReconcilerOptions>().BindConfiguration(ReconcilerOptions.SectionName).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<ReconcilerOptions>, ReconcilerOptionsValidator>());
        services.AddHttpClient(ServiceTokenSource.HttpClientName);
        services.AddSingleton<ServiceTokenSource>();
        services.AddHttpClient<OrderingClient>(OrderingClient.HttpClientName, (sp, http) =>
            http.BaseAddress = new Uri(sp.GetRequiredService<IOptions<ReconcilerOptions>>().Value.OrderingUrl.TrimEnd('/') + "/"));
        services.AddSingleton<Reconciler>();
        services.AddHostedService<ReconcilerService>();

        services.AddGrpc(o =>
        {
            o.MaxReceiveMessageSize = MaxReceiveMessageSize;
            // Never exception text in a status: LoyaltyErrorInterceptor turns faults into UNAVAILABLE or a generic INTERNAL.
            o.EnableDetailedErrors = false;
            o.Interceptors.Add<LoyaltyErrorInterceptor>();
        });
        services.AddGrpcReflection();
        // grpc.health.v1.Health reports the same checks as /health/ready, evaluated when asked.
        services.AddGrpcHealthChecks().AddDbContextCheck<LoyaltyDbContext>(LoyaltyDatabase.ConnectionStringName);

        builder.AddJwtAuthentication();
        services.AddAuthorizationBuilder()
            .AddPolicy(LoyaltyPolicies.Service, policy => policy.RequireAuthenticatedUser().RequireRole(LoyaltyCaller.ServiceRoles))
            .AddPolicy(LoyaltyPolicies.Admin, policy => policy.RequireAuthenticatedUser().RequireRole(LoyaltyCaller.ServiceRoles));
        return builder;
    }
}
