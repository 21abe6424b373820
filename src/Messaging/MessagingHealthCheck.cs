using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Portico.Messaging;

/// <summary>
/// Healthy once every queue with handlers is being consumed (its subscriptions declared); Degraded before, which still
/// answers ready: a service keeps serving while its broker is away, and its consumers start when it is back.
/// </summary>
internal sealed class MessagingHealthCheck(MessageConsumerService consumers) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var waiting = consumers.QueuesNotStarted;
        return Task.FromResult(waiting.Count == 0
            ? HealthCheckResult.Healthy()
            : HealthCheckResult.Degraded($"Not consuming yet: {string.Join(", ", waiting)}."));
    }
}
