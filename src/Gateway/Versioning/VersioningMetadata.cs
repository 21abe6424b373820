namespace Portico.Gateway.Versioning;

/// <summary>The keys of the gateway file that versioning reads: route metadata for deprecation, destination metadata for a canary's weight.</summary>
public static class VersioningMetadata
{
    /// <summary>Route metadata: when the route's version was (or will be) deprecated, an ISO 8601 date or date-time (RFC 9745 <c>Deprecation</c>).</summary>
    public const string Deprecation = "Portico.Deprecation";

    /// <summary>Route metadata: when the route's version stops answering, an ISO 8601 date or date-time (RFC 8594 <c>Sunset</c>).</summary>
    public const string Sunset = "Portico.Sunset";

    /// <summary>Route metadata: the URI of the version that replaces it (<c>Link: &lt;…&gt;; rel="successor-version"</c>, RFC 5829).</summary>
    public const string SuccessorVersion = "Portico.SuccessorVersion";

    /// <summary>Destination metadata: its share of the cluster's requests under <see cref="WeightedLoadBalancingPolicy"/>, a whole number (default 1).</summary>
    public const string Weight = "Portico.Weight";

    /// <summary>The most a destination's weight may be.</summary>
    public const int MaxWeight = 10_000;
}
