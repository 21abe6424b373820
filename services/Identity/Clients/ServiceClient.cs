namespace Portico.Identity.Clients;

/// <summary>A service that proved it holds its configured secret: what its access token says about it.</summary>
internal sealed record ServiceClient(string Id, IReadOnlyList<string> Roles, IReadOnlyList<string> Resources)
{
    /// <summary>Starts the <c>sub</c> of a client's token, so that it can never be taken for an account id (a GUID).</summary>
    public const string SubjectPrefix = "client:";

    public string Subject => SubjectPrefix + Id;

    /// <summary>
    /// The resource a token is to be issued for (RFC 8707): <paramref name="requested"/> when the client may call it, the
    /// client's only resource when none was requested; null (<c>invalid_target</c>) otherwise. Compared exactly.
    /// </summary>
    public string? ResolveResource(string? requested) =>
        requested is null
            ? Resources.Count == 1 ? Resources[0] : null
            : Resources.Contains(requested, StringComparer.Ordinal) ? requested : null;
}
