using System.Text.Json.Nodes;

namespace Portico.Gateway.Tests.Resilience;

/// <summary>Gateway files with one route to one cluster under a given resilience policy.</summary>
internal static class ResilienceJson
{
    public static string Create(string prefix, IEnumerable<Uri> destinations, object policy, string loadBalancing = "RoundRobin")
    {
        var node = JsonNode.Parse(GatewayJson.Create([(prefix, $"/{prefix}/{{**rest}}", prefix)], [(prefix, destinations)], loadBalancing))!;
        node["ReverseProxy"]!["Routes"]![prefix]!["Metadata"] = new JsonObject { ["Portico.Resilience"] = "test" };
        node["Portico"] = new JsonObject
        {
            ["Resilience"] = new JsonObject { ["Policies"] = new JsonObject { ["test"] = JsonNode.Parse(System.Text.Json.JsonSerializer.Serialize(policy)) } },
        };
        return node.ToJsonString();
    }

    /// <summary>Adds a second route and cluster with no resilience policy of its own (the default applies).</summary>
    public static string WithPlainRoute(string json, string prefix, Uri destination)
    {
        var node = JsonNode.Parse(json)!;
        node["ReverseProxy"]!["Routes"]![prefix] = new JsonObject
        {
            ["ClusterId"] = prefix,
            ["AuthorizationPolicy"] = "anonymous",
            ["Match"] = new JsonObject { ["Path"] = $"/{prefix}/{{**rest}}" },
        };
        node["ReverseProxy"]!["Clusters"]![prefix] = new JsonObject
        {
            ["Destinations"] = new JsonObject { ["d"] = new JsonObject { ["Address"] = destination.ToString() } },
        };
        return node.ToJsonString();
    }
}
