using System.ComponentModel.DataAnnotations;

namespace Portico.Gateway.Admin;

/// <summary><c>Portico:Admin</c>: where the admin surface answers.</summary>
public sealed record AdminOptions
{
    public const string SectionName = "Portico:Admin";

    /// <summary>Path prefix of the dashboard and the admin API.</summary>
    /// <remarks>Routing compares it as a path prefix: one leading slash, no trailing one, no query or fragment.</remarks>
    [Required]
    [RegularExpression("^/[^?# ]*[^/?# ]$", ErrorMessage = "{0} must be a path such as '/portico' (one leading '/', none trailing).")]
    public string PathPrefix { get; init; } = "/portico";

    /// <summary>Off by default: the admin surface answers loopback callers only, and 403 to anyone else.</summary>
    public bool AllowRemote { get; init; }

    /// <summary>
    /// Where the dashboard links a sampled request's trace: a URL with <c>{traceId}</c> in it, such as the Aspire
    /// dashboard's <c>http://localhost:18888/traces/detail/{traceId}</c>. Unset: no links.
    /// </summary>
    [RegularExpression("^https?://.*\\{traceId\\}.*$", ErrorMessage = "{0} must be an http(s) URL with the placeholder traceId in braces.")]
    public string? TraceUrl { get; init; }
}
