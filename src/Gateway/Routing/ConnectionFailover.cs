using System.Net.Sockets;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Logging;
using Yarp.ReverseProxy.Forwarder;
using Yarp.ReverseProxy.LoadBalancing;
using Yarp.ReverseProxy.Model;

namespace Portico.Gateway.Routing;

/// <summary>
/// When a destination refuses the connection, the request never reached it, so sending it to another
/// destination is safe whatever the method. Requests with a body are left alone: the forwarder may already
/// have consumed part of it. (Retries after a request was sent are a resilience policy, not this.)
/// </summary>
internal sealed partial class ConnectionFailover
{
    private static readonly string DefaultLoadBalancingPolicy = LoadBalancingPolicies.PowerOfTwoChoices;
    private const int MaxFailovers = 2;

    private readonly Dictionary<string, ILoadBalancingPolicy> _policies;
    private readonly ILogger<ConnectionFailover> _logger;

    public ConnectionFailover(IEnumerable<ILoadBalancingPolicy> policies, ILogger<ConnectionFailover> logger)
    {
        _policies = policies.ToDictionary(p => p.Name, StringComparer.OrdinalIgnoreCase);
        _logger = logger;
    }

    public async Task InvokeAsync(HttpContext context, Func<Task> next)
    {
        await next();

        for (var attempt = 0; attempt < MaxFailovers && IsRefusedBeforeSending(context); attempt++)
        {
            var proxy = context.GetReverseProxyFeature();
            var failed = proxy.ProxiedDestination;
            var cluster = proxy.Route.Cluster!;
            var candidates = Others(cluster.DestinationsState.AvailableDestinations, failed);
            if (candidates.Count == 0)
            {
                return;
            }

            var policyName = proxy.Cluster.Config.LoadBalancingPolicy ?? DefaultLoadBalancingPolicy;
            var policy = _policies.GetValueOrDefault(policyName) ?? _policies[DefaultLoadBalancingPolicy];
            var chosen = policy.PickDestination(context, cluster, candidates) ?? candidates[0];
            Log.FailingOver(_logger, proxy.Route.Config.RouteId, failed?.DestinationId, chosen.DestinationId);

            context.Features.Set<IForwarderErrorFeature>(null);
            context.Response.StatusCode = StatusCodes.Status200OK;
            proxy.AvailableDestinations = [chosen];
            await next();
        }
    }

    private static IReadOnlyList<DestinationState> Others(IReadOnlyList<DestinationState> available, DestinationState? failed)
    {
        if (failed is null)
        {
            return available;
        }
        var others = new List<DestinationState>(available.Count);
        foreach (var destination in available)
        {
            if (!ReferenceEquals(destination, failed))
            {
                others.Add(destination);
            }
        }
        return others;
    }

    internal static bool IsRefusedBeforeSending(HttpContext context)
    {
        if (context.Features.Get<IForwarderErrorFeature>() is not { Error: ForwarderError.Request } error
            || context.Response.HasStarted
            || context.RequestAborted.IsCancellationRequested
            || context.Features.Get<IHttpRequestBodyDetectionFeature>()?.CanHaveBody == true)
        {
            return false;
        }
        return IsConnectionRefused(error.Exception);
    }

    internal static bool IsConnectionRefused(Exception? exception)
    {
        for (var e = exception; e is not null; e = e.InnerException)
        {
            if (e is SocketException { SocketErrorCode: SocketError.ConnectionRefused or SocketError.HostUnreachable or SocketError.NetworkUnreachable })
            {
                return true;
            }
        }
        return false;
    }

    private static partial class Log
    {
        [LoggerMessage(10, LogLevel.Warning, "Route {RouteId}: destination {Failed} refused the connection; sending the request to {Next}.")]
        public static partial void FailingOver(ILogger logger, string routeId, string? failed, string next);
    }
}
