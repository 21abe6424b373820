using System.Globalization;
using System.Runtime.CompilerServices;
using Microsoft.AspNetCore.Http;
using Yarp.ReverseProxy.LoadBalancing;
using Yarp.ReverseProxy.Model;

namespace Portico.Gateway.Versioning;

/// <summary>
/// <c>"LoadBalancingPolicy": "Weighted"</c>: each available destination gets requests in proportion to its metadata
/// <c>Portico.Weight</c> (default 1; 0 takes none), for a canary beside a stable version (<c>90</c> and <c>10</c>). Smooth
/// weighted round robin (nginx's): deterministic, so a split of N requests is exact, and interleaved rather than in runs.
/// A destination out of rotation (unhealthy) leaves its share to the others.
/// </summary>
internal sealed class WeightedLoadBalancingPolicy : ILoadBalancingPolicy
{
    public const string PolicyName = "Weighted";

    private readonly ConditionalWeakTable<ClusterState, Rotation> _rotations = [];

    public string Name => PolicyName;

    public DestinationState? PickDestination(HttpContext context, ClusterState cluster, IReadOnlyList<DestinationState> availableDestinations)
    {
        if (availableDestinations.Count == 0)
        {
            return null;
        }
        var rotation = _rotations.GetValue(cluster, static _ => new Rotation());
        lock (rotation)
        {
            return rotation.Next(availableDestinations);
        }
    }

    /// <summary>A destination's weight; the gateway file's values were checked at load (<see cref="VersioningConfigSection"/>).</summary>
    internal static int WeightOf(IReadOnlyDictionary<string, string>? metadata) =>
        metadata?.GetValueOrDefault(VersioningMetadata.Weight) is { } text && int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var weight) ? weight : 1;

    private sealed class Rotation
    {
        private readonly Dictionary<DestinationState, long> _current = [];

        public DestinationState? Next(IReadOnlyList<DestinationState> available)
        {
            if (_current.Count > 4 * available.Count + 16)
            {
                _current.Clear(); // destinations of earlier versions of the file
            }
            DestinationState? best = null;
            long bestValue = 0, total = 0;
            foreach (var destination in available)
            {
                var weight = WeightOf(destination.Model.Config.Metadata);
                if (weight <= 0)
                {
                    continue;
                }
                var value = _current.GetValueOrDefault(destination) + weight;
                _current[destination] = value;
                total += weight;
                if (best is null || value > bestValue)
                {
                    (best, bestValue) = (destination, value);
                }
            }
            if (best is not null)
            {
                _current[best] = bestValue - total;
            }
            return best;
        }
    }
}
