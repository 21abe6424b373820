using System.Collections.Concurrent;
using System.Net;
using Microsoft.AspNetCore.Http;
using Polly;
using Polly.Retry;
using Polly.Timeout;
using Portico.Gateway.Configuration;
using Portico.Gateway.Forwarding;
using Portico.Gateway.Routing;
using Yarp.ReverseProxy;
using Yarp.ReverseProxy.Health;
using Yarp.ReverseProxy.LoadBalancing;
using Yarp.ReverseProxy.Model;

namespace Portico.Gateway.Resilience;

/// <summary>Builds the request of one attempt for the destination chosen for it.</summary>
internal delegate ValueTask<HttpRequestMessage> ClusterRequestFactory(DestinationState destination, CancellationToken cancellationToken);

/// <summary>A call to a cluster that got no usable answer: the HTTP status the caller should see, and why.</summary>
internal sealed class ClusterCallException(int status, string reason, Exception? inner = null) : Exception(reason, inner)
{
    public int Status { get; } = status;
}

/// <summary>
/// The one way the gateway calls a cluster outside a proxied request (composition steps, transcoded gRPC calls,
/// cache refreshes), going the same way a proxied request does: the cluster's load-balancing policy over its
/// healthy destinations, the destinations' circuit breakers, the cluster's resilience policy as a Polly pipeline
/// (total and per-attempt timeouts, retries on another destination within the retry budget, never a non-idempotent
/// retry unless nothing was sent), passive health on refused connections, the cluster's own <c>HttpClient</c>
/// (YARP's, with its trace propagation) and <c>portico.gateway.upstream.duration</c> per attempt.
/// </summary>
internal sealed class ClusterClient(IProxyStateLookup proxy, IEnumerable<ILoadBalancingPolicy> balancers, GatewayConfigProvider config,
    ResilienceStates states, IDestinationHealthUpdater healthUpdater, UpstreamMetrics upstreamMetrics, TimeProvider time)
{
    private static readonly ResiliencePropertyKey<Call> CallKey = new("portico.cluster-call");
    private static readonly TimeSpan DefaultReactivationPeriod = TimeSpan.FromSeconds(10);

    private readonly Dictionary<string, ILoadBalancingPolicy> _balancers = balancers.ToDictionary(b => b.Name, StringComparer.OrdinalIgnoreCase);
    private readonly ConcurrentDictionary<(ResiliencePolicy Policy, bool Idempotent), ResiliencePipeline<HttpResponseMessage>> _pipelines = new();

    /// <summary>
    /// Sends one call and returns the destination's answer (the caller disposes it), whatever its status once the
    /// policy has no retry left. <paramref name="idempotent"/>: the call may be sent again after it may have arrived
    /// (RFC 9110 §9.2.2, or an <c>Idempotency-Key</c>). Throws <see cref="ClusterCallException"/> when no answer came.
    /// </summary>
    public async Task<HttpResponseMessage> SendAsync(HttpContext context, string clusterId, bool idempotent, ClusterRequestFactory createRequest,
        CancellationToken cancellationToken)
    {
        if (!proxy.TryGetCluster(clusterId, out var cluster) || cluster.Model?.HttpClient is null)
        {
            throw new ClusterCallException(StatusCodes.Status503ServiceUnavailable, $"cluster '{clusterId}' is not loaded");
        }
        var settings = config.GetSection<ResilienceSettings>();
        var policyName = settings.PolicyForCluster(clusterId);
        var policy = policyName is null ? null : settings.Policies[policyName];
        var state = policy is null ? null : states.Get(policyName!, policy, cluster);
        state?.Budget.RecordRequest();
        var call = new Call(this, context, cluster, idempotent, state, createRequest, cancellationToken);
        var pipeline = policy is null ? ResiliencePipeline<HttpResponseMessage>.Empty : _pipelines.GetOrAdd((policy, idempotent), static (key, self) => self.Build(key.Policy), this);

        var resilience = ResilienceContextPool.Shared.Get(cancellationToken);
        resilience.Properties.Set(CallKey, call);
        try
        {
            var response = await pipeline.ExecuteAsync(static (ctx, c) => c.Owner.AttemptAsync(c, ctx.CancellationToken), resilience, call);
            if (response.StatusCode == HttpStatusCode.ServiceUnavailable && call.MayHaveApplied)
            {
                response.Dispose();
                throw EarlierAttemptUnknown(clusterId, "answered 503");
            }
            return response;
        }
        catch (ClusterCallException ex) when (ex.Status == StatusCodes.Status503ServiceUnavailable && call.MayHaveApplied)
        {
            throw EarlierAttemptUnknown(clusterId, ex.Message, ex);
        }
        catch (HttpRequestException ex) when (TransportErrors.IsConnectionRefused(ex) && call.MayHaveApplied)
        {
            throw EarlierAttemptUnknown(clusterId, $"refused the connection ({ex.HttpRequestError})", ex);
        }
        catch (TimeoutRejectedException ex) when (!cancellationToken.IsCancellationRequested)
        {
            throw new ClusterCallException(StatusCodes.Status504GatewayTimeout,
                $"cluster '{clusterId}' did not answer within {ex.Timeout}." + Unknown(call), ex);
        }
        catch (HttpRequestException ex)
        {
            var refused = TransportErrors.IsConnectionRefused(ex);
            throw new ClusterCallException(refused ? StatusCodes.Status503ServiceUnavailable : StatusCodes.Status502BadGateway,
                $"cluster '{clusterId}' could not be reached ({ex.HttpRequestError})." + (refused ? "" : Unknown(call)), ex);
        }
        finally
        {
            ResilienceContextPool.Shared.Return(resilience);
        }
    }

    /// <summary>
    /// The last attempt was not done (refused, 503, no destination to try), but an earlier one got no answer or a 5xx that
    /// says nothing: that one may have been applied, so the call's outcome is unknown (502), not "not done".
    /// </summary>
    private static ClusterCallException EarlierAttemptUnknown(string clusterId, string last, Exception? inner = null) =>
        new(StatusCodes.Status502BadGateway, $"cluster '{clusterId}' {last.TrimEnd('.')} after an earlier attempt whose outcome is unknown.", inner);

    private static string Unknown(Call call) => call.Idempotent ? "" : " It was not sent again: it may or may not have been applied.";

    private ResiliencePipeline<HttpResponseMessage> Build(ResiliencePolicy policy)
    {
        var builder = new ResiliencePipelineBuilder<HttpResponseMessage> { TimeProvider = time };
        if (policy.Timeout is { } total)
        {
            builder.AddTimeout(total);
        }
        if (policy.Retry.MaxRetries > 0)
        {
            builder.AddRetry(new RetryStrategyOptions<HttpResponseMessage>
            {
                MaxRetryAttempts = policy.Retry.MaxRetries,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = policy.Retry.BaseDelay,
                MaxDelay = policy.Retry.MaxDelay,
                ShouldHandle = static args => ValueTask.FromResult(ShouldRetry(args.Context.Properties.GetValue(CallKey, null!), args.Outcome)),
            });
        }
        if (policy.AttemptTimeout is { } attempt)
        {
            builder.AddTimeout(attempt);
        }
        return builder.Build();
    }

    /// <summary>
    /// A refused connection is always worth another destination (nothing was sent); anything else only for an
    /// idempotent call, and then only a transport failure, an attempt timeout or a 502/503/504, within the budget.
    /// </summary>
    private static bool ShouldRetry(Call call, Outcome<HttpResponseMessage> outcome)
    {
        if (call.CallerAborted.IsCancellationRequested || outcome.Exception is ClusterCallException)
        {
            return false;
        }
        if (outcome.Exception is HttpRequestException refused && TransportErrors.IsConnectionRefused(refused))
        {
            return true;
        }
        var failed = outcome.Exception is HttpRequestException or TimeoutRejectedException
            || outcome.Result?.StatusCode is HttpStatusCode.BadGateway or HttpStatusCode.ServiceUnavailable or HttpStatusCode.GatewayTimeout;
        return failed && call.Idempotent && (call.State is null || call.State.Budget.TryRetry());
    }

    /// <summary>One attempt: a healthy destination not tried yet (else any healthy one) that its breaker lets through.</summary>
    private async ValueTask<HttpResponseMessage> AttemptAsync(Call call, CancellationToken cancellationToken)
    {
        var cluster = call.Cluster;
        var available = cluster.DestinationsState.AvailableDestinations;
        if (available.Count == 0)
        {
            throw new ClusterCallException(StatusCodes.Status503ServiceUnavailable, $"no healthy destination in cluster '{cluster.ClusterId}'");
        }
        var candidates = available.Where(d => !call.Tried.Contains(d)).ToList();
        if (candidates.Count == 0)
        {
            candidates = [.. available];
        }
        var balancer = _balancers.GetValueOrDefault(cluster.Model.Config.LoadBalancingPolicy ?? LoadBalancingPolicies.PowerOfTwoChoices);
        while (candidates.Count > 0)
        {
            var destination = candidates.Count == 1 ? candidates[0] : balancer?.PickDestination(call.Context, cluster, candidates) ?? candidates[0];
            var breaker = call.State?.BreakerFor(destination);
            var probe = false;
            if (breaker is not null && !breaker.TryEnter(out probe))
            {
                candidates.Remove(destination);
                continue;
            }
            call.Tried.Add(destination);
            return await SendToAsync(call, destination, breaker, probe, cancellationToken);
        }
        throw new ClusterCallException(StatusCodes.Status503ServiceUnavailable, $"every healthy destination of cluster '{cluster.ClusterId}' has an open circuit");
    }

    private async ValueTask<HttpResponseMessage> SendToAsync(Call call, DestinationState destination, DestinationBreaker? breaker, bool probe,
        CancellationToken cancellationToken)
    {
        var cluster = call.Cluster;
        var started = time.GetTimestamp();
        try
        {
            var request = await call.CreateRequest(destination, cancellationToken);
            var response = await cluster.Model.HttpClient.SendAsync(request, cancellationToken);
            call.MayHaveApplied |= response.StatusCode is >= HttpStatusCode.InternalServerError and not HttpStatusCode.NotImplemented and not HttpStatusCode.ServiceUnavailable;
            breaker?.Report(response.StatusCode >= HttpStatusCode.InternalServerError ? AttemptResult.Failed : AttemptResult.Succeeded, probe);
            upstreamMetrics.Record(cluster.ClusterId, destination.DestinationId, (int)response.StatusCode, null, time.GetElapsedTime(started));
            return response;
        }
        catch (OperationCanceledException) when (call.CallerAborted.IsCancellationRequested)
        {
            breaker?.Abandon(probe); // the caller left: says nothing about the destination
            throw;
        }
        catch (Exception ex) when (ex is HttpRequestException or OperationCanceledException or IOException)
        {
            breaker?.Report(AttemptResult.Failed, probe);
            upstreamMetrics.Record(cluster.ClusterId, destination.DestinationId, 0, ex.GetType().Name, time.GetElapsedTime(started));
            call.MayHaveApplied |= !TransportErrors.IsConnectionRefused(ex); // sent, perhaps received: no answer
            if (TransportErrors.IsConnectionRefused(ex))
            {
                // As passive health does for proxied requests: out of load balancing for the reactivation period.
                var period = cluster.Model.Config.HealthCheck?.Passive?.ReactivationPeriod ?? DefaultReactivationPeriod;
                healthUpdater.SetPassive(cluster, destination, DestinationHealth.Unhealthy, period);
            }
            throw;
        }
    }

    private sealed record Call(ClusterClient Owner, HttpContext Context, ClusterState Cluster, bool Idempotent, ClusterResilience? State,
        ClusterRequestFactory CreateRequest, CancellationToken CallerAborted)
    {
        public HashSet<DestinationState> Tried { get; } = [];

        /// <summary>Some attempt was sent and got no answer, or a 5xx that says nothing of what was done.</summary>
        public bool MayHaveApplied { get; set; }
    }
}
