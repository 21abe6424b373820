using System.Data.Common;
using System.Globalization;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Portico.Data;

/// <summary>
/// How a service answers while its database is busy or cannot be reached, bound from a section the service names
/// (e.g. <c>Ordering:Database</c>).
/// </summary>
public sealed record DatabaseFaultOptions
{
    /// <summary>
    /// SQLite: how long a statement waits for another writer's lock before failing with SQLITE_BUSY (whole seconds,
    /// at least one). Microsoft.Data.Sqlite's own default is 30 s, which holds a request (and a thread) far too long.
    /// </summary>
    public TimeSpan BusyTimeout { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>The <c>Retry-After</c> of the 503 answered while the database is busy or unavailable (whole seconds).</summary>
    public TimeSpan RetryAfter { get; init; } = TimeSpan.FromSeconds(2);
}

/// <summary>Tells a database that is busy or out of reach (worth retrying) from every other database failure.</summary>
public static class DatabaseFaults
{
    private const int SqliteBusy = 5;
    private const int SqliteLocked = 6;

    /// <summary>
    /// Whether <paramref name="exception"/> (or one it wraps) says the database is busy or unavailable: SQLite's
    /// SQLITE_BUSY or SQLITE_LOCKED after the busy timeout, an Npgsql failure it marks transient (connection refused or
    /// lost, server shutting down, too many connections, serialization failure), or a timeout.
    /// </summary>
    public static bool IsBusyOrUnavailable(Exception? exception)
    {
        for (var e = exception; e is not null; e = e.InnerException)
        {
            switch (e)
            {
                case SqliteException sqlite when sqlite.SqliteErrorCode is SqliteBusy or SqliteLocked:
                case NpgsqlException { IsTransient: true }:
                case TimeoutException:
                    return true;
            }
        }
        return false;
    }

    /// <summary>
    /// Registers, for <typeparamref name="TContext"/> (added with <c>AddServiceDatabase</c>), a short SQLite busy timeout
    /// and an exception handler answering 503 problem+json with <c>Retry-After</c> when a request fails because the
    /// database is busy or unavailable. Settings from <paramref name="sectionPath"/>, validated at start.
    /// </summary>
    public static IServiceCollection AddDatabaseFaultHandling<TContext>(this IServiceCollection services, string sectionPath) where TContext : DbContext
    {
        ArgumentNullException.ThrowIfNull(services);
        services.AddOptions<DatabaseFaultOptions>().BindConfiguration(sectionPath)
            .Validate(o => o.BusyTimeout >= TimeSpan.FromSeconds(1) && o.BusyTimeout <= TimeSpan.FromMinutes(1), $"{sectionPath}:BusyTimeout must be from 00:00:01 to 00:01:00.")
            .Validate(o => o.RetryAfter >= TimeSpan.FromSeconds(1) && o.RetryAfter <= TimeSpan.FromHours(1), $"{sectionPath}:RetryAfter must be from 00:00:01 to 01:00:00.")
            .ValidateOnStart();
        services.AddSingleton<SqliteBusyTimeoutInterceptor>();
        services.ConfigureDbContext<TContext>(
            (sp, options) => options.AddInterceptors(sp.GetRequiredService<SqliteBusyTimeoutInterceptor>()),
            ServiceLifetime.Singleton);
        services.AddProblemDetails();
        services.AddExceptionHandler<DatabaseUnavailableExceptionHandler>();
        return services;
    }
}

/// <summary>Sets the busy timeout on every SQLite connection EF opens (its commands and its <c>BEGIN IMMEDIATE</c> use it).</summary>
internal sealed class SqliteBusyTimeoutInterceptor(IOptions<DatabaseFaultOptions> options) : DbConnectionInterceptor
{
    public override InterceptionResult ConnectionOpening(DbConnection connection, ConnectionEventData eventData, InterceptionResult result)
    {
        Apply(connection);
        return result;
    }

    public override ValueTask<InterceptionResult> ConnectionOpeningAsync(DbConnection connection, ConnectionEventData eventData, InterceptionResult result, CancellationToken cancellationToken = default)
    {
        Apply(connection);
        return ValueTask.FromResult(result);
    }

    private void Apply(DbConnection connection)
    {
        if (connection is SqliteConnection sqlite)
        {
            sqlite.DefaultTimeout = Math.Max(1, (int)options.Value.BusyTimeout.TotalSeconds);
        }
    }
}

/// <summary>503 problem+json with <c>Retry-After</c> for a request that failed because the database is busy or unavailable.</summary>
internal sealed partial class DatabaseUnavailableExceptionHandler(
    IProblemDetailsService problemDetails, IOptions<DatabaseFaultOptions> options, ILogger<DatabaseUnavailableExceptionHandler> logger) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        if (!DatabaseFaults.IsBusyOrUnavailable(exception))
        {
            return false;
        }
        Log.Unavailable(logger, exception, httpContext.Request.Method, httpContext.Request.Path);
        httpContext.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
        httpContext.Response.Headers.RetryAfter = Math.Max(1, (long)options.Value.RetryAfter.TotalSeconds).ToString(CultureInfo.InvariantCulture);
        return await problemDetails.TryWriteAsync(new ProblemDetailsContext
        {
            HttpContext = httpContext,
            ProblemDetails =
            {
                Status = StatusCodes.Status503ServiceUnavailable,
                Title = "Database busy",
                Detail = "The service's database is busy or unavailable; nothing was changed. Try again shortly.",
            },
        });
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Warning, "{Method} {Path} failed because the database is busy or unavailable; answered 503")]
        public static partial void Unavailable(ILogger logger, Exception exception, string method, string path);
    }
}
