using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Portico.Gateway.Jobs;

namespace Microsoft.AspNetCore.Builder;

internal static class JobsEndpointRouteBuilderExtensions
{
    /// <summary>Maps the job routes and the status endpoints, when jobs are on (<see cref="Microsoft.Extensions.Hosting.JobsHostingExtensions.AddPorticoJobs"/>).</summary>
    public static IEndpointRouteBuilder MapPorticoJobs(this IEndpointRouteBuilder endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        if (endpoints.ServiceProvider.GetService<JobsEndpointDataSource>() is { } jobs)
        {
            endpoints.DataSources.Add(jobs);
        }
        return endpoints;
    }
}
