using Microsoft.Extensions.DependencyInjection.Extensions;
using Portico.Loyalty.Apis;
using Portico.Loyalty.Infrastructure;
using Portico.Loyalty.Ledger;

namespace Microsoft.Extensions.Hosting;

public static class LoyaltyServiceCollectionExtensions
{
    /// <summary>Largest gRPC message accepted; every Loyalty request is a few short fields.</summary>
    public const int MaxReceiveMessageSize = 64 * 1024;

    /// <summary>
    /// Registers the Loyalty service: its database (SQLite or PostgreSQL from <c>ConnectionStrings:loyaltydb</c>)
    /// with a readiness check and start-up creation, the points ledger, gRPC with server reflection and the
    /// gRPC health service, bearer-token authentication against Identity's key set with the
    /// <see cref="LoyaltyPolicies.Service"/> policy, and <see cref="TimeProvider.System"/> unless one is registered.
    /// </summary>
    public static TBuilder AddLoyaltyServices<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        var services = builder.Services;
        services.AddProblemDetails();
        services.TryAddSingleton(TimeProvider.System);

        builder.AddServiceDatabase<LoyaltyDbContext>(LoyaltyDatabase.ConnectionStringName, LoyaltyDatabase.DefaultConnectionString);
        services.AddSingleton<SqliteWriteGate>();
        services.AddScoped<PointsLedger>();

        services.AddGrpc(o =>
        {
            o.MaxReceiveMessageSize = MaxReceiveMessageSize;
            o.EnableDetailedErrors = builder.Environment.IsDevelopment();
        });
        services.AddGrpcReflection();
        // grpc.health.v1.Health reports the same checks as /health/ready, evaluated when asked.
        services.AddGrpcHealthChecks().AddDbContextCheck<LoyaltyDbContext>(LoyaltyDatabase.ConnectionStringName);

        builder.AddJwtAuthentication();
        services.AddAuthorizationBuilder()
            .AddPolicy(LoyaltyPolicies.Service, policy => policy.RequireAuthenticatedUser().RequireRole(LoyaltyCaller.ServiceRoles));
        return builder;
    }
}
