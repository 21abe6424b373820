using Microsoft.EntityFrameworkCore;
using Portico.Catalog.Apis;
using Portico.Catalog.Infrastructure;

namespace Microsoft.Extensions.Hosting;

public static class CatalogServiceCollectionExtensions
{
    /// <summary>Name of the connection string (<c>ConnectionStrings:catalogdb</c>).</summary>
    public const string ConnectionStringName = "catalogdb";

    /// <summary>
    /// Registers the catalog's database (SQLite from <c>ConnectionStrings:catalogdb</c>), its readiness
    /// check, start-up creation and seeding, and problem+json error responses.
    /// </summary>
    public static TBuilder AddCatalogServices<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        builder.Services.AddProblemDetails();
        builder.Services.AddOptions<ProductCachingOptions>().BindConfiguration(ProductCachingOptions.SectionName).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddSingleton<ProductCaching>();

        // The connection string is read when the first context is made, so test hosts can override it.
        builder.Services.AddDbContext<CatalogDbContext>(
            (services, options) => options.UseSqlite(GetConnectionString(services.GetRequiredService<IConfiguration>())),
            contextLifetime: ServiceLifetime.Scoped,
            optionsLifetime: ServiceLifetime.Singleton);

        builder.Services.AddHealthChecks().AddDbContextCheck<CatalogDbContext>("catalogdb");
        builder.Services.AddHostedService<CatalogDbInitializer>();
        return builder;
    }

    private static string GetConnectionString(IConfiguration configuration) =>
        configuration.GetConnectionString(ConnectionStringName) is { Length: > 0 } connectionString
            ? connectionString
            : throw new InvalidOperationException($"ConnectionStrings:{ConnectionStringName} is not set.");
}
