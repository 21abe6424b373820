using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Portico.Data;

namespace Microsoft.Extensions.Hosting;

public static class ServiceDatabaseHostingExtensions
{
    /// <summary>
    /// Registers <typeparamref name="TContext"/> on SQLite or PostgreSQL (from <c>ConnectionStrings:{connectionName}</c>,
    /// else <paramref name="defaultConnectionString"/>) and creates its schema at start-up. The connection string is
    /// read when the first context is made, so test hosts can override it. Health checks stay with the service,
    /// which knows whether it reports over HTTP or gRPC.
    /// </summary>
    public static IHostApplicationBuilder AddServiceDatabase<TContext>(this IHostApplicationBuilder builder, string connectionName, string defaultConnectionString)
        where TContext : DbContext
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrEmpty(connectionName);
        ArgumentException.ThrowIfNullOrEmpty(defaultConnectionString);

        builder.Services.AddDbContext<TContext>(
            (sp, options) =>
            {
                var configured = sp.GetRequiredService<IConfiguration>().GetConnectionString(connectionName);
                ServiceDatabase.Configure(options, configured is { Length: > 0 } ? configured : defaultConnectionString);
            },
            contextLifetime: ServiceLifetime.Scoped,
            optionsLifetime: ServiceLifetime.Singleton);
        builder.Services.AddHostedService<ServiceDatabaseInitializer<TContext>>();
        return builder;
    }
}
