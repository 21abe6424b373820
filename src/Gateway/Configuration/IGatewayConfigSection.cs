using System.Text.Json;
using Microsoft.Extensions.Configuration;
using Yarp.ReverseProxy.Configuration;

namespace Portico.Gateway.Configuration;

/// <summary>
/// A feature's part of the gateway file (its policies, say). Each candidate version of the file is read by
/// every section; the version is accepted only if no section reports an error, and the object a section
/// returns is kept with that version, so routes and the policies they name always change together.
/// </summary>
public interface IGatewayConfigSection
{
    object Read(GatewayConfigContext context);
}

/// <summary>What a section sees of a candidate gateway file.</summary>
public sealed class GatewayConfigContext(IConfiguration file, JsonElement json, IReadOnlyList<RouteConfig> routes, IReadOnlyList<ClusterConfig> clusters, ICollection<string> errors)
{
    /// <summary>The whole file as configuration keys.</summary>
    public IConfiguration File { get; } = file;

    /// <summary>The whole file as JSON (undefined when it did not parse).</summary>
    public JsonElement Json { get; } = json;
    public IReadOnlyList<RouteConfig> Routes { get; } = routes;
    public IReadOnlyList<ClusterConfig> Clusters { get; } = clusters;

    /// <summary>Add one message per problem; a message names the key or the route it is about.</summary>
    public ICollection<string> Errors { get; } = errors;
}
