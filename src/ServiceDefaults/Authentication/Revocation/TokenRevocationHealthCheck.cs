using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Portico.ServiceDefaults.Authentication.Revocation;

/// <summary>
/// Readiness of the revocation list: Healthy while the store answers, Degraded when the local copy is stale and the
/// list fails open (requests still pass, HTTP 200, but the signal is there), Unhealthy when it fails closed (every token
/// is refused, so this instance should take no traffic). Healthy, with a note, when no store is configured.
/// </summary>
public sealed class TokenRevocationHealthCheck(TokenRevocationList list) : IHealthCheck
{
    public const string Name = "token-revocation";

    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        if (!list.IsConfigured)
        {
            return Task.FromResult(HealthCheckResult.Healthy("No store configured: revocation checks are off."));
        }
        if (!list.IsStale)
        {
            return Task.FromResult(HealthCheckResult.Healthy());
        }
        var since = list.LastRefreshed is { } last ? $"since {last:O}" : "since start";
        return Task.FromResult(list.FailMode == RevocationFailMode.Closed
            ? HealthCheckResult.Unhealthy($"The revocation list has not been read from the store {since}; every access token is refused (fail closed).")
            : HealthCheckResult.Degraded($"The revocation list has not been read from the store {since}; access tokens are accepted without it (fail open)."));
    }
}
