using Microsoft.Extensions.Logging;

namespace Portico.Gateway.Resilience;

internal static partial class ResilienceLog
{
    [LoggerMessage(100, LogLevel.Information, "Cluster {ClusterId}: retrying on {Next} after {Reason} from {Failed} (attempt {Attempt}).")]
    public static partial void Retrying(ILogger logger, string clusterId, string next, string reason, string? failed, int attempt);

    [LoggerMessage(101, LogLevel.Warning, "Cluster {ClusterId}: retry budget spent; {Reason} is returned to the client without a retry.")]
    public static partial void BudgetExhausted(ILogger logger, string clusterId, string reason);

    [LoggerMessage(102, LogLevel.Warning, "Cluster {ClusterId}: circuit breaker of destination {DestinationId} opened for {BreakDuration}.")]
    public static partial void BreakerOpened(ILogger logger, string clusterId, string destinationId, TimeSpan breakDuration);

    [LoggerMessage(103, LogLevel.Information, "Cluster {ClusterId}: circuit breaker of destination {DestinationId} is half-open; the next request probes it.")]
    public static partial void BreakerHalfOpened(ILogger logger, string clusterId, string destinationId);

    [LoggerMessage(104, LogLevel.Information, "Cluster {ClusterId}: circuit breaker of destination {DestinationId} closed.")]
    public static partial void BreakerClosed(ILogger logger, string clusterId, string destinationId);

    [LoggerMessage(105, LogLevel.Warning, "Cluster {ClusterId}: concurrency limit reached; request shed.")]
    public static partial void Shed(ILogger logger, string clusterId);
}
