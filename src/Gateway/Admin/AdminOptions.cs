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

    /// <summary>Off by default: the admin surface answers loopback callers only, and 404 to anyone else.</summary>
    public bool AllowRemote { get; init; }
}
