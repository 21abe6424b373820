using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Portico.Contracts.Events;
using Portico.Reporting;
using Portico.Reporting.Apis;
using Portico.Reporting.Infrastructure;
using Portico.Reporting.Jobs;
using Portico.Reporting.Sales;

namespace Microsoft.Extensions.Hosting;

public static class ReportingServiceCollectionExtensions
{
    /// <summary>The queue Reporting's event handlers share when <c>Messaging:Queue</c> is not set.</summary>
    public const string DefaultQueue = "reporting";

    /// <summary>
    /// Registers the Reporting service: <see cref="ReportingOptions"/> validated at start, its database (SQLite or
    /// PostgreSQL from <c>ConnectionStrings:reportingdb</c>) with a readiness check, the sales read model fed by
    /// <c>OrderPlaced.v1</c>/<c>OrderCancelled.v1</c> through the inbox, the job worker of the sales and purchases
    /// reports, bearer-token authentication with the <see cref="ReportingPolicies.Admin"/> policy, and problem+json errors.
    /// The broker is <c>ConnectionStrings:broker</c> or the store (<c>ConnectionStrings:store</c>); Reporting consumes,
    /// so it does not start without one.
    /// </summary>
    public static TBuilder AddReportingServices<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        var services = builder.Services;
        services.AddProblemDetails();
        services.Configure<ExceptionHandlerOptions>(o => o.StatusCodeSelector = e => e is BadHttpRequestException bad ? bad.StatusCode : StatusCodes.Status500InternalServerError);
        services.TryAddSingleton(TimeProvider.System);
        services.AddOptions<ReportingOptions>().BindConfiguration(ReportingOptions.SectionName).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<ReportingOptions>, ReportingOptionsValidator>());

        builder.AddServiceDatabase<ReportingDbContext>(ReportingDatabase.ConnectionStringName, ReportingDatabase.DefaultConnectionString);
        services.AddHealthChecks().AddDbContextCheck<ReportingDbContext>(ReportingDatabase.ConnectionStringName);
        services.AddScoped<SalesQueries>();
        services.TryAddSingleton<ReportingWorker>();
        services.TryAddEnumerable(ServiceDescriptor.Scoped<IJobReport, SalesJobReport>());
        services.TryAddEnumerable(ServiceDescriptor.Scoped<IJobReport, PurchasesJobReport>());

        var queue = builder.Configuration["Messaging:Queue"] is { Length: > 0 } configured ? configured : DefaultQueue;
        builder.AddPorticoMessaging()
            .AddEventHandler<OrderPlaced, OrderPlacedIntegrationEventHandler>(EventsJsonContext.Default.OrderPlaced, queue)
            .AddEventHandler<OrderCancelled, OrderCancelledIntegrationEventHandler>(EventsJsonContext.Default.OrderCancelled, queue)
            .AddMessage(JobsJsonContext.Default.JobHeartbeat)
            .AddMessage(JobsJsonContext.Default.JobCompleted)
            .AddCommandHandler<JobRequested, JobRequestedHandler>(JobsJsonContext.Default.JobRequested, ReportingJobQueues.In(ReportingJobQueues.SalesReport))
            .AddCommandHandler<JobRequested, JobRequestedHandler>(JobsJsonContext.Default.JobRequested, ReportingJobQueues.In(ReportingJobQueues.PurchasesReport));

        builder.AddJwtAuthentication();
        services.AddAuthorizationBuilder()
            .AddPolicy(ReportingPolicies.Admin, policy => policy.RequireAuthenticatedUser().RequireRole(ReportingRoles.Admin));
        return builder;
    }
}
