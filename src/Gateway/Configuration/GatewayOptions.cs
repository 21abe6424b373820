using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;

namespace Portico.Gateway.Configuration;

/// <summary>
/// Host-level settings of the gateway, bound from the <c>Portico</c> section of the host configuration.
/// Routes and clusters are not here: they live in the gateway file named by <see cref="ConfigFile"/>.
/// </summary>
public sealed record GatewayOptions
{
    public const string SectionName = "Portico";

    /// <summary>
    /// The gateway file: YARP's <c>ReverseProxy</c> section (routes and clusters) and Portico's policy sections.
    /// Relative paths are resolved against the content root. Watched and reloaded on change.
    /// </summary>
    [Required]
    public string ConfigFile { get; init; } = "gateway.json";

    [ValidateObjectMembers]
    public RequestLimitOptions Limits { get; init; } = new();

    /// <summary>Health checking applied to every cluster that does not configure its own.</summary>
    [ValidateObjectMembers]
    public HealthCheckDefaults HealthChecks { get; init; } = new();
}

public sealed record RequestLimitOptions
{
    /// <summary>Default request body limit; a route overrides it with YARP's <c>MaxRequestBodySize</c>.</summary>
    [Range(0, long.MaxValue)]
    public long MaxRequestBodySize { get; init; } = 10 * 1024 * 1024;

    /// <summary>Total size of the request line's headers; over it Kestrel answers 431.</summary>
    [Range(1024, 1024 * 1024)]
    public int MaxRequestHeadersTotalSize { get; init; } = 32 * 1024;

    [Range(1, 1000)]
    public int MaxRequestHeaderCount { get; init; } = 100;
}

public sealed record HealthCheckDefaults
{
    public bool ActiveEnabled { get; init; } = true;

    /// <summary>Probed on each destination; every Portico service answers it.</summary>
    [Required]
    [RegularExpression("^/.*", ErrorMessage = "{0} must be a path starting with '/'.")]
    public string ActivePath { get; init; } = "/health/ready";

    [Range(typeof(TimeSpan), "00:00:00.100", "1.00:00:00")]
    public TimeSpan ActiveInterval { get; init; } = TimeSpan.FromSeconds(5);

    [Range(typeof(TimeSpan), "00:00:00.010", "00:10:00")]
    public TimeSpan ActiveTimeout { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>How long a destination that refused a connection stays out of load balancing.</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "1.00:00:00")]
    public TimeSpan PassiveReactivationPeriod { get; init; } = TimeSpan.FromSeconds(10);
}

/// <summary>Checks <c>Portico</c> at start, its nested sections included, from the DataAnnotations above.</summary>
[OptionsValidator]
internal sealed partial class GatewayOptionsValidator : IValidateOptions<GatewayOptions>;
