using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Portico.Contracts.Events;
using Portico.Gateway.Configuration;
using Portico.Gateway.Jobs;

namespace Microsoft.Extensions.Hosting;

internal static class JobsHostingExtensions
{
    /// <summary>
    /// Adds async jobs: the job routes of the gateway file (<c>Portico:Jobs</c> there) answer 202 with a status URL, keep
    /// the job's status in the store, send the request to the job's in-queue and take the worker's answers from its
    /// out-queue; a sweeper sends jobs again from their status. Host settings: <see cref="JobsOptions"/>
    /// (<c>Portico:Jobs</c>), validated at start. While <c>Portico:Jobs:Queues</c> is empty nothing of this is loaded —
    /// no messaging, no sweeper — and a job route in the gateway file is a start-up error. Safe to call more than once,
    /// and beside other features that add Portico.Messaging (it is registered once).
    /// </summary>
    public static IHostApplicationBuilder AddPorticoJobs(this IHostApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var services = builder.Services;
        services.AddOptions<JobsOptions>().BindConfiguration(JobsOptions.SectionName).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<JobsOptions>, JobsOptionsValidator>());
        // Job routes are Portico:Jobs:{name} in the gateway file; the keys of JobsOptions below it are host settings.
        services.AddSingleton(SettingHome.Host(JobsOptions.SectionName, typeof(JobsOptions)));
        services.AddSingleton(SettingHome.GatewayFile(JobsConfigSection.SectionPath));
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IGatewayConfigSection, JobsConfigSection>());
        if (!JobsOptions.IsEnabled(builder.Configuration) || services.Any(d => d.ServiceType == typeof(JobSweeper)))
        {
            return builder;
        }

        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton(sp => new JobsClock(sp.GetKeyedService<TimeProvider>(JobsOptions.ClockKey) ?? sp.GetRequiredService<TimeProvider>()));
        services.TryAddSingleton<JobMetrics>();
        services.TryAddSingleton<JobStore>();
        services.TryAddSingleton<JobSender>();
        services.TryAddSingleton<JobsApi>();
        services.TryAddSingleton<JobsEndpointDataSource>();
        services.TryAddSingleton<JobSweeper>();
        services.AddHostedService(sp => sp.GetRequiredService<JobSweeper>());

        // Requests go out on the in-queues; the workers' answers come back on the out-queues this gateway consumes.
        var messaging = builder.AddPorticoMessaging().AddMessage(JobsJsonContext.Default.JobRequested);
        var queues = builder.Configuration.GetSection($"{JobsOptions.SectionName}:{nameof(JobsOptions.Queues)}").Get<string[]>() ?? [];
        foreach (var queue in queues.Where(JobQueueNames.IsValid).Distinct(StringComparer.Ordinal))
        {
            messaging
                .AddCommandHandler<JobHeartbeat, JobHeartbeatHandler>(JobsJsonContext.Default.JobHeartbeat, JobsOptions.OutQueue(queue))
                .AddCommandHandler<JobCompleted, JobCompletedHandler>(JobsJsonContext.Default.JobCompleted, JobsOptions.OutQueue(queue));
        }
        return builder;
    }
}
