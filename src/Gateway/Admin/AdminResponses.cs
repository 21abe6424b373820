using Portico.Messaging.Transport;

namespace Portico.Gateway.Admin;

// The admin API's answers, as named types so that its OpenAPI document (AdminOpenApi) describes each one's shape.

/// <summary><see cref="DrainScope"/>: where a drain made here takes effect, as <see cref="DrainView.Scope"/>, told before one is made.</summary>
internal sealed record OverviewView(string ConfigVersion, int Routes, int Clusters, int Destinations, IReadOnlyDictionary<string, int> DestinationsByStatus,
    string? TraceUrl, string DrainScope);

/// <summary>
/// A drain or undrain done. <see cref="Scope"/> is <c>all-instances</c> when the shared store carries it to every gateway
/// instance, <c>instance</c> when there is no store and only this one changed; <see cref="AvailableDestinations"/> is
/// this instance's count.
/// </summary>
internal sealed record DrainView(string ClusterId, string DestinationId, bool Drained, string Scope, int AvailableDestinations, string? Warning);

internal sealed record BreakerResetView(string ClusterId, string DestinationId, int BreakersReset);

/// <summary>A purge done everywhere; <see cref="RemovedHere"/> counts this instance's memory tier.</summary>
internal sealed record PurgeView(string? Route, string? Prefix, string? Tag, int RemovedHere);

/// <summary>
/// Jobs: counts from the job store (<see cref="Unavailable"/> when it did not answer) and each route's queues' depths
/// from the broker (<see cref="QueueDepthsUnavailable"/> when it did not answer; a depth is null when the transport
/// cannot tell).
/// </summary>
internal sealed record JobsView(bool Enabled, string? Unavailable, string? Transport, string? QueueDepthsUnavailable, long? Live, int? LiveRead,
    long? DeadLettered, IReadOnlyList<JobRouteView> Routes);

/// <summary>One job route: its live jobs by state, and what its in-queue (requests) and out-queue (workers' answers) hold.</summary>
internal sealed record JobRouteView(string Name, string Method, string Path, string Queue, string InQueue, string OutQueue, int MaxAttempts,
    IReadOnlyDictionary<string, int> Live, QueueDepth? InQueueDepth, QueueDepth? OutQueueDepth);

internal sealed record ConfigView(string Version, string File, string Text);

internal sealed record ConfigVersionView(string Version, string Text);

internal sealed record ConfigValidationView(bool Valid, IReadOnlyList<string> Errors);

