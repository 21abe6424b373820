namespace Portico.Gateway.Admin;

/// <summary><c>Portico:Admin</c>: where the admin surface answers.</summary>
public sealed record AdminOptions
{
    public const string SectionName = "Portico:Admin";

    /// <summary>Path prefix of the dashboard and the admin API.</summary>
    public string PathPrefix { get; init; } = "/portico";

    /// <summary>Off by default: the admin surface answers loopback callers only, and 404 to anyone else.</summary>
    public bool AllowRemote { get; init; }
}
