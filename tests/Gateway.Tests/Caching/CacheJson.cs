using System.Text.Json.Nodes;

namespace Portico.Gateway.Tests.Caching;

/// <summary>Gateway files with one cached route.</summary>
internal static class CacheJson
{
    public static string Create(string prefix, Uri destination, object policy, string? authorizationPolicy = "anonymous")
    {
        var node = JsonNode.Parse(GatewayJson.Create([(prefix, $"/{prefix}/{{**rest}}", prefix)], [(prefix, [destination])], authorizationPolicy: authorizationPolicy))!;
        node["ReverseProxy"]!["Routes"]![prefix]!["Metadata"] = new JsonObject { ["Portico.Cache"] = "test" };
        node["Portico"] = new JsonObject
        {
            ["Caching"] = new JsonObject { ["Policies"] = new JsonObject { ["test"] = JsonNode.Parse(System.Text.Json.JsonSerializer.Serialize(policy)) } },
        };
        return node.ToJsonString();
    }
}
